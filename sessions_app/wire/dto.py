"""Our models as the values of the Evo Voice contracts (keyed by DataMember name).

These functions read only what the selectors have already loaded (`account`, `customer`,
`endpoint` joined; `members` and `log` prefetched; `breadcrumb` attached), so rendering a list
costs no queries.
"""

from datetime import UTC, datetime


def wire_date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds: `2026-11-21T21:54:26.123Z`."""
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def member_info(member) -> dict:
    return {
        "Identity": member.identity,
        "EndpointId": member.endpoint_id,
        "DisplayName": member.display_name,
        "IsOriginalMember": member.is_original_member,
        "AvatarUrl": member.avatar_url,
        "ApplicationData": dict(member.application_data or {}),
        "CallState": member.call_state,
        "Role": member.role,
        "CallSid": member.call_sid,
        "Muted": member.muted,
    }


def log_info(entry) -> dict:
    return {"Date": wire_date(entry.date), "Message": entry.message}


def session_info(session) -> dict:
    customer = session.customer
    endpoint = session.endpoint
    return {
        "DialState": session.dial_state,
        "CallState": session.call_state,
        "QueueState": session.queue_state,
        "AccountId": session.account_id,
        "AccountName": session.account.name,
        "CustomerId": session.customer_id,
        "CustomerBreadcrumb": [
            {"Id": crumb_id, "Name": name} for crumb_id, name in getattr(session, "breadcrumb", [])
        ],
        "CustomerName": customer.name if customer else None,
        "EndpointId": session.endpoint_id,
        "EndpointName": endpoint.name if endpoint else None,
        "DateCompleted": wire_date(session.date_completed),
        "Destination": session.destination,
        "ToAddress": session.to_address,
        "FromAddress": session.from_address,
        "FromName": session.from_name,
        "AnsweredByName": session.answered_by_name,
        "QueueMemberId": session.queue_member_id,
        "Channel": session.channel,
        "Ended": session.ended,
        "Outcome": session.outcome,
        "CallSid": session.call_sid,
        "ConsoleData": session.console_data,
        "HoldQueueName": session.hold_queue_name,
        "HeldByUserId": session.held_by_user_id,
        "HoldReason": session.hold_reason,
        "ConferenceSid": session.conference_sid,
        "DisplayName": session.display_name,
        "Log": [log_info(entry) for entry in session.log.all()],
        "Members": [member_info(member) for member in session.members.all()],
        "CallbackNumber": session.callback_number,
        "AnsweredById": session.answered_by_id,
        "Direction": session.direction,
        "FromPhoneNumber": session.from_phone_number,
        "MostRecentParticipantCallSid": session.most_recent_participant_call_sid,
        "WasMissed": session.was_missed,
        "RingQueueId": session.ring_queue_id,
        "Id": session.id,
        "DateCreated": wire_date(session.date_created),
        "DateLastModified": wire_date(session.date_last_modified),
        "CreatedBy": session.created_by,
        "LastModifiedBy": session.last_modified_by,
    }


def active_sessions_result(sessions) -> dict:
    return {"Sessions": [session_info(s) for s in sessions]}


def error_response(*, error_code: str, message: str, errors=(), stack_trace=None) -> dict:
    status = {"ErrorCode": error_code, "Message": message, "StackTrace": stack_trace}
    status["Errors"] = [
        {"ErrorCode": e.code, "FieldName": e.field, "Message": e.message} for e in errors
    ]
    return {"ResponseStatus": status}
