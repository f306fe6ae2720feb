"""Everything a telephony provider reports, on one path: store, de-duplicate, apply once.

A report is stored (`ProviderInboxEntry`) before anything else, keyed by the provider's event
id, so a redelivered report changes nothing. Reports are applied per session: with the
session's row locked, every pending report about any of its calls is applied in the order it
arrived, each recorded through the action unit and marked handled in the same transaction, so
each is applied exactly once. Reports that would move the session backwards (an answer after
the hang-up, a ringing after the answer) are marked ignored, with a note saying why.

A report about a call that is not known yet (the invite that dialled it has not committed)
stays pending: it is applied as soon as a call with that SID is recorded (`unit.record` asks on
commit), or retried by `inbox_process()`, and given up after `PROVIDER_INBOX_RETRY_SECONDS`.
What cannot concern any session (a conference-wide event, a call to a number we do not route)
is stored as ignored at once (`provider_report_note`), so it is on record and never retried.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone

from sessions_app.models import (
    CallSession,
    CallState,
    EventKind,
    InboxStatus,
    MemberCallState,
    MemberRole,
    ProviderInboxEntry,
    SessionMember,
    call_state_move_allowed,
)
from sessions_app.telephony import ProviderReport, ReportKind

from .changes import (
    MEMBER_GONE,
    MEMBER_OFF_HOLD,
    UNMONITORED,
    answer_change,
    conference_name,
    dial_state_after,
    end_change,
    resumed_fields,
    who,
)
from .unit import PROVIDER, Change, lock_session, record

logger = logging.getLogger(__name__)

MAX_BATCH = 500
_HANDLED_FIELDS = ["status", "note", "session", "session_event", "handled_at", "attempts"]


def provider_report_receive(report: ProviderReport) -> ProviderInboxEntry:
    """Store `report` (once: a redelivery finds the stored entry) and apply what can be
    applied now. Returns the entry as it stands afterwards."""
    entry, created = ProviderInboxEntry.objects.get_or_create(
        provider=report.provider,
        event_id=report.event_id,
        defaults={
            "call_sid": report.call_sid,
            "kind": str(report.kind),
            "data": report.data,
            "occurred_at": report.occurred_at,
        },
    )
    if created:
        inbox_process(call_sids=[report.call_sid])
        entry.refresh_from_db()
    return entry


def provider_report_note(report: ProviderReport, note: str) -> ProviderInboxEntry:
    """Store `report` as ignored, with `note` saying why, without applying it (once: a
    redelivery finds the stored entry)."""
    now = timezone.now()
    entry, _ = ProviderInboxEntry.objects.get_or_create(
        provider=report.provider,
        event_id=report.event_id,
        defaults={
            "call_sid": report.call_sid,
            "kind": str(report.kind),
            "data": report.data,
            "occurred_at": report.occurred_at,
            "status": InboxStatus.IGNORED,
            "note": note[:300],
            "handled_at": now,
        },
    )
    return entry


def inbox_process(*, call_sids: list[str] | None = None) -> int:
    """Apply the pending reports about `call_sids` (all of them: those calls were just
    recorded), or else every report due for a retry. Returns how many were handled."""
    pending = ProviderInboxEntry.objects.filter(status=InboxStatus.PENDING)
    if call_sids is not None:
        pending = pending.filter(call_sid__in=call_sids)
    else:
        pending = pending.filter(next_attempt_at__lte=timezone.now())
    sids = list(
        dict.fromkeys(pending.order_by("id").values_list("call_sid", flat=True)[:MAX_BATCH])
    )
    if not sids:
        return 0
    sessions = _sessions_by_call(sids)
    _postpone([sid for sid in sids if sid not in sessions])
    return sum(_apply_pending(session_id) for session_id in dict.fromkeys(sessions.values()))


def _sessions_by_call(call_sids: list[str]) -> dict[str, str]:
    """{call_sid: session_id} for the known calls; a call on several sessions (the same SID
    reused) belongs to its active, newest one."""
    found: dict[str, str] = {}
    members = SessionMember.objects.filter(call_sid__in=call_sids).order_by(
        "session__ended", "-session__date_created"
    )
    sessions = CallSession.objects.filter(call_sid__in=call_sids).order_by("ended", "-date_created")
    # A monitoring supervisor's leg is not a member: it is known by its session.
    monitors = CallSession.objects.filter(monitor_call_sid__in=call_sids)
    for rows in (
        members.values_list("call_sid", "session_id"),
        sessions.values_list("call_sid", "id"),
        monitors.values_list("monitor_call_sid", "id"),
    ):
        for call_sid, session_id in rows:
            found.setdefault(call_sid, session_id)
    return found


def _postpone(call_sids: list[str]) -> None:
    """Reports about calls not (yet) known: try again later, with a growing pause; give up
    once they are older than the retry window."""
    if not call_sids:
        return
    now = timezone.now()
    window = timedelta(seconds=settings.PROVIDER_INBOX_RETRY_SECONDS)
    waiting = ProviderInboxEntry.objects.filter(status=InboxStatus.PENDING, call_sid__in=call_sids)
    waiting.filter(received_at__lt=now - window).update(
        status=InboxStatus.IGNORED, note="No session has this call", handled_at=now
    )
    for entry_id, attempts in waiting.values_list("id", "attempts"):
        pause = timedelta(seconds=min(2**attempts, 60))
        # Conditional: an applier that got there first has already handled it.
        ProviderInboxEntry.objects.filter(pk=entry_id, status=InboxStatus.PENDING).update(
            attempts=F("attempts") + 1, next_attempt_at=now + pause
        )


def _apply_pending(session_id: str) -> int:
    """Apply, in arrival order, every pending report about the calls of one session."""
    with transaction.atomic(durable=True):
        session = lock_session(PROVIDER, session_id)
        members = {m.call_sid: m for m in session.members.exclude(call_sid=None)}
        sids = {*members, session.call_sid, session.monitor_call_sid} - {None}
        entries = list(
            ProviderInboxEntry.objects.select_for_update()
            .filter(status=InboxStatus.PENDING, call_sid__in=sids)
            .order_by("id")
        )
        for entry in entries:
            member = members.get(entry.call_sid)
            if entry.call_sid == session.monitor_call_sid:
                change, note = _monitor_effect(session, entry)
            elif member:
                change, note = _effect(session, member, entry)
            else:
                change, note = None, "No member"
            event = record(session, PROVIDER, change) if change is not None else None
            if change is not None and event is None:
                note = "Nothing changed"
            entry.status = InboxStatus.APPLIED if event else InboxStatus.IGNORED
            entry.note = note
            entry.session = session
            entry.session_event = event
            entry.handled_at = timezone.now()
            entry.attempts += 1
            entry.save(
                update_fields=[
                    "status",
                    "note",
                    "session",
                    "session_event",
                    "handled_at",
                    "attempts",
                ]
            )
    return len(entries)


def _monitor_effect(session: CallSession, entry: ProviderInboxEntry) -> tuple[Change | None, str]:
    """A report about the monitoring supervisor's leg: only its end matters (the supervisor
    hung up, or never answered): the session is monitored by nobody any more."""
    if entry.kind not in (ReportKind.COMPLETED, ReportKind.FAILED):
        return None, "The supervisor's leg"
    supervisor = session.monitored_by.get_username() if session.monitored_by else ""
    data = {"supervisor": supervisor, "how": "hung_up", "status": (entry.data or {}).get("status")}
    return Change(EventKind.MONITOR_ENDED, session=dict(UNMONITORED), data=data), ""


def _effect(
    session: CallSession, member: SessionMember, entry: ProviderInboxEntry
) -> tuple[Change | None, str]:
    """What `entry` does to the locked session: (the change, "") or (None, why nothing)."""
    if session.ended:
        return None, "The session has ended"
    kind, data = entry.kind, entry.data or {}
    own = member.is_original_member or member.call_sid == session.call_sid
    named = {"member": who(member)}

    if kind == ReportKind.ANSWERED:
        # The agent's leg rung for an incoming call answers the call itself.
        answers_call = member.role == MemberRole.AGENT and not member.is_original_member
        if (
            answers_call
            and member.call_state == MemberCallState.RINGING
            and session.call_state
            in (
                CallState.RINGING,
                CallState.PASSIVE,
            )
        ):
            change = answer_change(session, member.name, member.endpoint_id)
            change.member(member, call_state=MemberCallState.CONNECTED)
            dial_state_after(session, change, member)
            return change, ""
        if own:
            if session.call_state not in (CallState.RINGING, CallState.PASSIVE):
                return None, f"The call is already {session.call_state}"
            name = data.get("answered_by_name") or (
                session.endpoint.name if session.endpoint_id else "an agent"
            )
            return answer_change(session, name, data.get("answered_by_id")), ""
        if member.call_state != MemberCallState.RINGING:
            return None, f"The member is {member.call_state}"
        change = Change(EventKind.MEMBER_ANSWERED, data=named)
        change.member(member, call_state=MemberCallState.CONNECTED)
        dial_state_after(session, change, member)
        return change, ""

    if kind in (ReportKind.COMPLETED, ReportKind.FAILED):
        how = "failed" if kind == ReportKind.FAILED else "hung_up"
        if own:
            change = end_change(session, how=how, status=data.get("status"))
            if session.call_state == CallState.RINGING:
                change.session["was_missed"] = True
            return change, ""
        if not member.on_call:
            return None, "The member has already left"
        change = Change(
            EventKind.MEMBER_LEFT, data={**named, "how": how, "status": data.get("status")}
        )
        change.member(member, **MEMBER_GONE)
        dial_state_after(session, change, member)
        return change, ""

    if kind == ReportKind.HELD:
        if member.call_state != MemberCallState.CONNECTED:
            return None, f"The member is {member.call_state}"
        change = Change(EventKind.HELD if own else EventKind.MEMBER_HELD, data=named)
        change.member(member, call_state=MemberCallState.HOLD)
        if own and call_state_move_allowed(session.call_state, CallState.HOLD):
            change.session.update(call_state=CallState.HOLD, held_at=timezone.now())
        return change, ""

    if kind == ReportKind.UNHELD:
        if member.call_state != MemberCallState.HOLD:
            return None, f"The member is {member.call_state}"
        change = Change(EventKind.RESUMED if own else EventKind.MEMBER_RESUMED, data=named)
        change.member(member, **MEMBER_OFF_HOLD)
        if own and session.is_held:
            change.session.update(resumed_fields())
        return change, ""

    if kind in (ReportKind.MUTED, ReportKind.UNMUTED):
        muted = kind == ReportKind.MUTED
        change = Change(EventKind.MEMBER_MUTED if muted else EventKind.MEMBER_UNMUTED, data=named)
        change.member(member, muted=muted)
        return change, ""

    if kind == ReportKind.JOINED:
        conference_sid = data.get("conference_sid")
        name = data.get("conference_name")
        if session.conference_sid:
            if session.conference_sid == conference_sid:
                return None, "Already in the session's conference"
            return None, f"The session's conference is {session.conference_sid}"
        if not conference_sid or (name and name != conference_name(session.id)):
            return None, f"Conference {name or conference_sid} is not the session's"
        change = Change(
            EventKind.CONFERENCE_STARTED,
            session={"conference_sid": conference_sid},
            data={"conference_sid": conference_sid, **named},
        )
        return change, ""

    if kind == ReportKind.LEFT:
        if own:  # it may go on elsewhere: its own status says when it ends
            return None, "The session's call left the conference"
        if not member.on_call:
            return None, "The member has already left"
        change = Change(EventKind.MEMBER_LEFT, data={**named, "how": "left"})
        change.member(member, **MEMBER_GONE)
        dial_state_after(session, change, member)
        return change, ""

    return None, f"Nothing to do for '{data.get('event') or kind}'"


def process_inbox_forever(stop: threading.Event, interval: float = 2.0) -> None:
    """Retry due reports every `interval` seconds until `stop` is set (a server thread, or
    `manage.py process_inbox`)."""
    while not stop.is_set():
        close_old_connections()
        try:
            inbox_process()
        except Exception:
            logger.exception("processing the provider inbox failed")
        stop.wait(interval)
    close_old_connections()
