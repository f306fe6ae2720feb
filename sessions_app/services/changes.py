"""Changes that several actions make, built once: what ending looks like, what answering
does, how dialing stops. Pure builders over a locked session: they read, never write."""

from django.utils import timezone

from sessions_app.models import (
    CallSession,
    CallState,
    DialState,
    EventKind,
    HoldReason,
    MemberCallState,
    QueueState,
    SessionMember,
)

from .conflicts import session_ended
from .unit import Change, require_move


def conference_name(session_id: str) -> str:
    """The name of a session's conference at the provider (Twilio's FriendlyName): the
    incoming-call TwiML, the agent's leg and an invite's new conference use the same one."""
    return f"session-{session_id}"


def who(member: SessionMember) -> dict:
    """How an event names a member."""
    return {"call_sid": member.call_sid, "name": member.name}


def fresh(session: CallSession, members: list[SessionMember]) -> list[SessionMember]:
    """`members` as they are now (phase 3 re-reads what phase 1 saw), in the same order."""
    current = {m.pk: m for m in session.members.filter(pk__in=[m.pk for m in members])}
    return [current[m.pk] for m in members if m.pk in current]


# A session on nobody's hold.
OFF_HOLD = {
    "hold_reason": HoldReason.NONE,
    "held_by_user_id": None,
    "hold_queue_name": None,
    "held_at": None,
}


# A member's leg off hold (resumed), and off the call (left, or the session ended).
MEMBER_OFF_HOLD = {"call_state": MemberCallState.CONNECTED, "hold_queue_name": None}
MEMBER_GONE = {"call_state": MemberCallState.NONE, "hold_queue_name": None}


def resumed_fields() -> dict:
    """What a resumed session looks like: connected, off hold."""
    return {"call_state": CallState.CONNECTED, **OFF_HOLD}


# A session nobody monitors.
UNMONITORED = {
    "monitored_by_id": None,
    "monitor_mode": "",
    "monitor_call_sid": None,
    "monitor_destination": None,
    "monitor_started_at": None,
}


def ended_fields() -> dict:
    """What an ended session looks like: disconnected, completed, on nobody's hold, monitored
    by nobody."""
    return {
        "ended": True,
        "call_state": CallState.DISCONNECTED,
        "dial_state": DialState.NONE,
        "date_completed": timezone.now(),
        **OFF_HOLD,
        **UNMONITORED,
    }


def end_change(session: CallSession, kind: str = EventKind.ENDED, **data) -> Change:
    """The session ends: every member leaves the call (the session must be locked)."""
    change = Change(kind, session=ended_fields(), data=data)
    for member in session.members.all():
        change.member(member, **MEMBER_GONE)
    return change


def dial_state_after(session: CallSession, change: Change, leaving: SessionMember) -> None:
    """Dialing stops once no invited member but `leaving` is still ringing."""
    still_ringing = (
        session.members.filter(call_state=MemberCallState.RINGING, is_original_member=False)
        .exclude(pk=leaving.pk)
        .exists()
    )
    if not still_ringing:
        change.session["dial_state"] = DialState.NONE


def answer_change(
    session: CallSession, answered_by_name: str, answered_by_id: str | None
) -> Change:
    """The session's call is answered (Ringing/Passive -> Connected): the caller is connected
    and a queued call leaves the queue."""
    if not session.actions.end:
        raise session_ended(session)
    require_move(session, CallState.CONNECTED, "answer")
    change = Change(
        EventKind.ANSWERED,
        session={
            "call_state": CallState.CONNECTED,
            "answered_by_name": answered_by_name,
            "answered_by_id": answered_by_id,
        },
        # Who answered, whether or not it changed (the same agent may answer again).
        data={"answered_by": answered_by_name},
    )
    if session.queue_state in (QueueState.QUEUED, QueueState.RINGING):
        change.session["queue_state"] = QueueState.CONNECTED
    connect_ringing_caller(session, change)
    return change


def connect_ringing_caller(session: CallSession, change: Change) -> None:
    """The call is answered: its original member stops ringing."""
    for member in session.members.filter(
        call_state=MemberCallState.RINGING, is_original_member=True
    ):
        change.member(member, call_state=MemberCallState.CONNECTED)
