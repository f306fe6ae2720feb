"""Reconciliation: sessions whose calls ended at the provider while we missed the report.

A status callback can be lost (our server was down, the number's status URL is not set), and
then a session stays "active" for ever: a ghost. `sessions_reconcile` asks the provider about
the calls of every active voice session, with no transaction open, and then, through the
action unit as the system, ends each session whose own call is gone (one `ended` event) and
takes every other member whose leg is gone off the call (one `member_left` event each). A
report or an action that got there first wins: the unit re-reads the locked session and
records nothing if it has ended or the member has left meanwhile. A provider that cannot
answer for a call leaves its session alone until the next pass.

`manage.py reconcile_sessions` runs one pass; `python -m portal.serve` runs one every
`RECONCILE_INTERVAL_SECONDS` in a thread (`reconcile_forever`).
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.db import close_old_connections

from sessions_app.errors import DomainError
from sessions_app.models import CallSession, EventKind, SessionMember
from sessions_app.selectors import sessions_to_reconcile
from sessions_app.telephony import CallStatus, TelephonyError

from .changes import MEMBER_GONE, dial_state_after, end_change, fresh, who
from .provider import get_provider
from .unit import SYSTEM, Change, release_connection, run_action

logger = logging.getLogger(__name__)


@dataclass
class ReconcileResult:
    """What one pass did: sessions looked at, sessions ended, members taken off the call, and
    calls the provider could not tell us about."""

    checked: int = 0
    ended: list[str] = field(default_factory=list)
    members_left: list[str] = field(default_factory=list)
    errors: int = 0


def _end_if_active(session: CallSession, *, status: CallStatus) -> Change | None:
    if session.ended:
        return None
    return end_change(session, how="gone", status=str(status))


def _member_gone(
    session: CallSession, *, member: SessionMember, status: CallStatus
) -> Change | None:
    if session.ended:
        return None
    [current] = fresh(session, [member]) or [None]
    if current is None or not current.on_call:
        return None
    change = Change(
        EventKind.MEMBER_LEFT, data={"member": who(current), "how": "gone", "status": str(status)}
    )
    change.member(current, **MEMBER_GONE)
    dial_state_after(session, change, current)
    return change


def _apply(session_id: str, decide: Callable[[CallSession], Change | None]) -> bool:
    """Run `decide` as one system action on the session; whether it recorded anything."""
    recorded = []

    def deciding(session: CallSession) -> Change | None:
        change = decide(session)
        recorded.append(change is not None)
        return change

    try:
        run_action(actor=SYSTEM, session_id=session_id, decide=deciding)
    except DomainError as error:  # e.g. another action in flight for too long: next pass
        logger.warning("reconciliation skipped session %s: %s", session_id, error)
        return False
    return bool(recorded) and recorded[-1]


def _gone_legs(provider, legs: list[SessionMember]) -> list[tuple[SessionMember, CallStatus]]:
    gone = []
    for member in legs:
        status = provider.call_status(call_sid=member.call_sid)
        if status.gone:
            gone.append((member, status))
    return gone


def sessions_reconcile() -> ReconcileResult:
    """One pass over every active voice session (see the module docstring)."""
    provider = get_provider()
    result = ReconcileResult()
    sessions = sessions_to_reconcile()
    release_connection()  # the provider is asked with no connection held
    for session in sessions:
        own = session.call_sid
        legs = [m for m in session.members.all() if m.on_call and m.call_sid and m.call_sid != own]
        if not own and not legs:
            continue
        result.checked += 1
        try:
            own_status = provider.call_status(call_sid=own) if own else None
            gone = [] if own_status and own_status.gone else _gone_legs(provider, legs)
        except TelephonyError as error:
            logger.warning("reconciliation: the provider could not tell about %s: %s", own, error)
            result.errors += 1
            continue
        if own_status is not None and own_status.gone:
            ending = own_status
        elif own is None and len(gone) == len(legs):  # no call of its own, every leg gone
            ending = gone[-1][1]
        else:
            ending = None
        if ending is not None:
            if _apply(session.id, partial(_end_if_active, status=ending)):
                result.ended.append(session.id)
            continue
        for member, status in gone:
            if _apply(session.id, partial(_member_gone, member=member, status=status)):
                result.members_left.append(member.call_sid)
    return result


def reconcile_forever(stop: threading.Event, interval: float) -> None:
    """A reconciliation pass every `interval` seconds until `stop` is set (a server thread)."""
    while not stop.wait(interval):
        close_old_connections()
        try:
            result = sessions_reconcile()
            if result.ended or result.members_left:
                logger.info(
                    "reconciliation ended %d session(s), took %d member(s) off the call",
                    len(result.ended),
                    len(result.members_left),
                )
        except Exception:
            logger.exception("reconciliation failed")
    close_old_connections()
