"""409s that explain themselves: what state the call is in, who put it there and since when,
read from the session's events ("Cannot hold: the call is Ringing by the provider since
14:02:11 UTC"). Only refused actions read this, so it may take a query of its own."""

from datetime import UTC, datetime

from django.utils import timezone

from sessions_app.errors import InvalidState, SessionEnded
from sessions_app.eventlog import describe_actor
from sessions_app.models import (
    CallSession,
    CallState,
    EventKind,
    HoldReason,
    SessionEvent,
    SessionMember,
)


def _when(date: datetime) -> str:
    """'14:02:11 UTC' today, '2026-11-22 14:02:11 UTC' before."""
    date = date.astimezone(UTC)
    if date.date() == timezone.now().astimezone(UTC).date():
        return f"{date:%H:%M:%S} UTC"
    return f"{date:%Y-%m-%d %H:%M:%S} UTC"


def _origin(
    session: CallSession, member: SessionMember | None = None, field: str = "call_state"
) -> tuple[str, datetime]:
    """(who, when) of the latest event that set the call state (or `field`) of the session, or
    of `member`:
    who is 'alice via API', 'the provider' or 'the system'. Without such an event (a state it
    started in, or a log from before events were typed), its creation, or for an ended session
    its last change."""
    key = None if member is None else (member.call_sid or f"member-{member.pk}")
    events = SessionEvent.objects.filter(session=session).order_by("-seq")
    for data, actor_name, via, date in events.values_list("data", "actor_name", "via", "date"):
        changed = data.get("changes", {}) if key is None else data.get("members", {}).get(key, {})
        if field in changed:
            return describe_actor(actor_name, via), date
    if member is not None:
        return "", member.date_created
    if session.ended:
        return session.last_modified_by or "", session.date_last_modified
    return session.created_by or "", session.date_created


def _by_since(who: str, date: datetime, *, word: str = "since") -> str:
    return f"{f'by {who} ' if who else ''}{word} {_when(date)}"


def _call_state(session: CallSession, verb: str) -> str:
    if session.call_state != CallState.HOLD:
        return session.call_state
    already = "already " if verb == "hold" else ""
    reason = f" ({session.hold_reason})" if session.hold_reason != HoldReason.NONE else ""
    return f"{already}on hold{reason}"


def call_state_conflict(session: CallSession, verb: str) -> InvalidState:
    """'Cannot hold: the call is Ringing by the provider since 14:02:11 UTC'."""
    who, date = _origin(session)
    return InvalidState(
        f"Cannot {verb}: the call is {_call_state(session, verb)} {_by_since(who, date)}"
    )


def member_state_conflict(session: CallSession, member: SessionMember, verb: str) -> InvalidState:
    """'Cannot hold: the member's call is Ringing by alice via API since 14:02:11 UTC', or,
    for a member who left, 'Cannot hang up: that member has already left the call (by the
    provider at 14:03:40 UTC)'."""
    who, date = _origin(session, member)
    if not member.on_call:
        return InvalidState(
            f"Cannot {verb}: that member has already left the call "
            f"({_by_since(who, date, word='at')})"
        )
    return InvalidState(
        f"Cannot {verb}: the member's call is {member.call_state} {_by_since(who, date)}"
    )


def member_already(session: CallSession, member: SessionMember, verb: str) -> InvalidState:
    """'Cannot mute: the member is already muted (by alice via API since 14:02:11 UTC)', and
    the same for `hold` (already on hold)."""
    field, state = ("muted", "muted") if verb == "mute" else ("call_state", "on hold")
    who, date = _origin(session, member, field)
    return InvalidState(f"Cannot {verb}: the member is already {state} ({_by_since(who, date)})")


def member_not(session: CallSession, member: SessionMember, verb: str) -> InvalidState:
    """'Cannot unmute: the member is not muted (by alice via API since 14:02:11 UTC)'."""
    who, date = _origin(session, member, "muted")
    return InvalidState(f"Cannot {verb}: the member is not muted ({_by_since(who, date)})")


def already_monitored(session: CallSession, supervisor: str, verb: str) -> InvalidState:
    """'Cannot monitor: bob is already monitoring this call (Listen) since 14:02:11 UTC'."""
    return InvalidState(
        f"Cannot {verb}: {supervisor} is already monitoring this call ({session.monitor_mode}) "
        f"since {_when(session.monitor_started_at)}"
    )


def not_monitored(session: CallSession, verb: str) -> InvalidState:
    """'Cannot stop monitoring: nobody is monitoring this call'."""
    return InvalidState(f"Cannot {verb}: nobody is monitoring this call")


def session_ended(session: CallSession) -> SessionEnded:
    """'The session has already ended (by bob via portal at 14:05:11 UTC)'."""
    who, date = _origin(session)
    return SessionEnded(_by_since(who, date, word="at"))


def conference_full(session: CallSession, members: int) -> InvalidState:
    """'Cannot invite: the conference is full (10 members), the last one invited by alice via
    API at 14:02:11 UTC'."""
    message = f"Cannot invite: the conference is full ({members} members)"
    last = (
        SessionEvent.objects.filter(session=session, kind=EventKind.MEMBER_INVITED)
        .order_by("-seq")
        .values_list("actor_name", "via", "date")
        .first()
    )
    if last is not None:
        actor_name, via, date = last
        who = describe_actor(actor_name, via)
        message += f", the last one invited {_by_since(who, date, word='at')}"
    return InvalidState(message)
