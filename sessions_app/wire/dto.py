"""Session records (`selectors.session_records`) as the values of the Evo Voice contracts,
keyed by DataMember name. Pure functions over plain data: rendering costs no queries."""

from datetime import UTC, datetime


def wire_date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds: `2026-11-21T21:54:26.123Z`."""
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def member_info(member: dict) -> dict:
    return {
        "Identity": member["identity"],
        "EndpointId": member["endpoint_id"],
        "DisplayName": member["display_name"],
        "IsOriginalMember": member["is_original_member"],
        "AvatarUrl": member["avatar_url"],
        "ApplicationData": dict(member["application_data"] or {}),
        "CallState": member["call_state"],
        "Role": member["role"],
        "CallSid": member["call_sid"],
        "Muted": member["muted"],
    }


def session_info(r: dict) -> dict:
    """A session record (`selectors.session_records`) as `SessionInfo` values."""
    return {
        "DialState": r["dial_state"],
        "CallState": r["call_state"],
        "QueueState": r["queue_state"],
        "AccountId": r["account_id"],
        "AccountName": r["account__name"],
        "CustomerId": r["customer_id"],
        "CustomerBreadcrumb": [{"Id": cid, "Name": name} for cid, name in r["breadcrumb"]],
        "CustomerName": r["customer__name"],
        "EndpointId": r["endpoint_id"],
        "EndpointName": r["endpoint__name"],
        "DateCompleted": wire_date(r["date_completed"]),
        "Destination": r["destination"],
        "ToAddress": r["to_address"],
        "FromAddress": r["from_address"],
        "FromName": r["from_name"],
        "AnsweredByName": r["answered_by_name"],
        "QueueMemberId": r["queue_member_id"],
        "Channel": r["channel"],
        "Ended": r["ended"],
        "Outcome": r["outcome"],
        "CallSid": r["call_sid"],
        "ConsoleData": r["console_data"],
        "HoldQueueName": r["hold_queue_name"],
        "HeldByUserId": r["held_by_user_id"],
        "HoldReason": r["hold_reason"],
        "ConferenceSid": r["conference_sid"],
        "DisplayName": r["display_name"],
        "Log": [{"Date": wire_date(date), "Message": message} for _, date, message in r["log"]],
        "Members": [member_info(member) for member in r["members"]],
        "CallbackNumber": r["callback_number"],
        "AnsweredById": r["answered_by_id"],
        "Direction": r["direction"],
        "FromPhoneNumber": r["from_phone_number"],
        "MostRecentParticipantCallSid": r["most_recent_participant_call_sid"],
        "WasMissed": r["was_missed"],
        "RingQueueId": r["ring_queue_id"],
        "Id": r["id"],
        "DateCreated": wire_date(r["date_created"]),
        "DateLastModified": wire_date(r["date_last_modified"]),
        "CreatedBy": r["created_by"],
        "LastModifiedBy": r["last_modified_by"],
    }


def active_sessions_result(sessions) -> dict:
    return {"Sessions": [session_info(s) for s in sessions]}


def error_response(*, error_code: str, message: str, errors=(), stack_trace=None) -> dict:
    status = {"ErrorCode": error_code, "Message": message, "StackTrace": stack_trace}
    status["Errors"] = [
        {"ErrorCode": e.code, "FieldName": e.field, "Message": e.message} for e in errors
    ]
    return {"ResponseStatus": status}
