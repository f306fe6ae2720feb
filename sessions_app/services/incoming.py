"""A call arrives at one of our numbers (Twilio's Voice URL webhook): the session, and whom
it rings.

The number decides the account: a `number` endpoint whose `phone_number` is the one dialled,
and whose `forward_to` says where its calls ring (`models.Endpoint`). The call becomes a
ringing session (the provider started it), the caller waits in the session's conference, and
the agent is rung into it (`session_ring_agent`, through the action unit, so the provider is
called with no transaction open); the agent's answer, reported by the provider, answers the
call. A call to a number nobody routes is not a session: it is recorded in the provider inbox
as ignored, with a note saying why, and refused.
"""

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection

from sessions_app.errors import DomainError
from sessions_app.models import CallSession, Channel, Direction
from sessions_app.selectors import number_endpoint, session_by_call_sid
from sessions_app.telephony import ProviderReport, ReportKind

from .changes import conference_name
from .inbox import provider_report_note
from .sessions import session_ring_agent, session_start
from .unit import PROVIDER, SYSTEM


class Routing(StrEnum):
    """What the caller gets."""

    CONFERENCE = "conference"  # into the session's conference, waiting for the agent
    REJECT = "reject"  # nobody has this number: refused
    UNAVAILABLE = "unavailable"  # the number leads nowhere, or the agent could not be rung


@dataclass(frozen=True)
class IncomingCallRouting:
    """The outcome of an incoming call: the session (if one was made) and what the caller
    gets; `conference` is the name of the conference to put the caller in."""

    routing: Routing
    session: CallSession | None = None

    @property
    def conference(self) -> str | None:
        return conference_name(self.session.id) if self.session else None


def incoming_call_receive(
    *,
    provider: str,
    call_sid: str,
    from_address: str,
    from_name: str | None,
    to_address: str,
) -> IncomingCallRouting:
    """Route the call `call_sid` from `from_address` to our number `to_address`: make its
    session and ring its agent. A redelivery of the same call finds its session and rings no
    one again, even one arriving while the first is still being handled (they queue on the
    call: `_one_at_a_time`)."""
    with _one_at_a_time(call_sid):
        return _route(provider, call_sid, from_address, from_name, to_address)


@contextmanager
def _one_at_a_time(call_sid: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock on the call for the length of the block, so that two
    deliveries of one incoming call cannot both find no session and make two. The session
    itself is made in transactions of its own (the action unit's), so the lock is the
    connection's, not a transaction's. (SQLite, the demo's, runs one writer at a time.)"""
    if connection.vendor != "postgresql":
        yield
        return
    key = zlib.crc32(f"incoming-call:{call_sid}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _route(
    provider: str, call_sid: str, from_address: str, from_name: str | None, to_address: str
) -> IncomingCallRouting:
    existing = session_by_call_sid(call_sid)
    if existing is not None:
        if existing.ended:
            return IncomingCallRouting(Routing.UNAVAILABLE, existing)
        return IncomingCallRouting(Routing.CONFERENCE, existing)
    endpoint = number_endpoint(to_address)
    if endpoint is None or not endpoint.forward_to:
        note = (
            f"No endpoint has the number {to_address}"
            if endpoint is None
            else f"The number {to_address} ({endpoint.name}) rings nobody: its forward_to is empty"
        )
        provider_report_note(
            ProviderReport(
                provider=provider,
                event_id=f"incoming:{call_sid}",
                call_sid=call_sid,
                kind=ReportKind.OTHER,
                data={"event": "incoming call", "from": from_address, "to": to_address},
            ),
            note,
        )
        return IncomingCallRouting(Routing.REJECT if endpoint is None else Routing.UNAVAILABLE)
    session = session_start(
        actor=PROVIDER,
        account_id=endpoint.account_id,
        call_sid=call_sid,
        customer=endpoint.customer,
        endpoint=endpoint,
        direction=Direction.INCOMING,
        channel=Channel.VOICE,
        from_address=from_address,
        from_name=from_name,
        to_address=to_address,
    )
    try:
        session_ring_agent(
            actor=SYSTEM, session_id=session.id, endpoint=endpoint, from_number=to_address
        )
    except DomainError:  # recorded on the session (`provider_failed`); the caller is told
        return IncomingCallRouting(Routing.UNAVAILABLE, session)
    return IncomingCallRouting(Routing.CONFERENCE, session)
