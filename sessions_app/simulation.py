"""Demo traffic: calls arrive ringing, get answered, queue, hold, conference and end.

What happens at the telephony side (an agent answering, a caller hanging up) is reported by
the simulated provider through the provider inbox, as real status callbacks would be; what a
supervisor or a program does (hold, resume, invite) goes through the same actions as the API.
So the portal sees exactly what real traffic would do. Used by `manage.py simulate_traffic` and,
in the single-process demo, by `portal.serve --simulate-traffic`.
"""

import logging
import random
import threading

from django.db import close_old_connections

from . import services
from .errors import DomainError
from .models import (
    Account,
    CallSession,
    CallState,
    Channel,
    Direction,
    HoldReason,
    QueueState,
)
from .telephony import ReportKind
from .telephony.simulated import SimulatedProvider, new_sid

logger = logging.getLogger(__name__)

SIMULATOR = services.SYSTEM
NAMES = [
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Radia Perlman",
    "Ken Thompson",
    "Barbara Liskov",
    "Dennis Ritchie",
    "Margaret Hamilton",
    "Tim Berners-Lee",
    None,
]
MAX_ACTIVE_PER_ACCOUNT = 12


def _phone(rng: random.Random) -> str:
    return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"


def step(rng: random.Random) -> str:
    """One event of simulated traffic; returns what happened (for logs and tests)."""
    accounts = list(Account.objects.all())
    if not accounts:
        return "no accounts"
    account = rng.choice(accounts)
    active = list(CallSession.objects.filter(account=account, ended=False))
    if not active or (len(active) < MAX_ACTIVE_PER_ACCOUNT and rng.random() < 0.35):
        customers = list(account.customers.all())
        endpoints = list(account.endpoints.all())
        session = services.session_start(
            actor=SIMULATOR,
            account_id=account.id,
            call_sid=new_sid("CA"),
            customer=rng.choice(customers) if customers else None,
            endpoint=rng.choice(endpoints) if endpoints else None,
            direction=rng.choice([Direction.INCOMING, Direction.INCOMING, Direction.OUTGOING]),
            channel=rng.choices([Channel.VOICE, Channel.CHAT, Channel.FAX], weights=[10, 1, 1])[0],
            from_address=_phone(rng),
            from_name=rng.choice(NAMES),
            to_address=_phone(rng),
            queue_state=rng.choice([QueueState.NONE, QueueState.QUEUED]),
        )
        return f"new call {session.id}"
    session = rng.choice(active)
    provider = services.get_provider()
    telephony = provider if isinstance(provider, SimulatedProvider) else None
    try:
        if session.call_state == CallState.RINGING:
            endpoint = session.endpoint
            if telephony is None or not session.call_sid:
                return "idle"  # a real provider reports its own answers
            telephony.report_now(
                session.call_sid,
                ReportKind.ANSWERED,
                answered_by_name=endpoint.name if endpoint else "Agent",
                answered_by_id=endpoint.id if endpoint else None,
            )
            return f"answered {session.id}"
        roll = rng.random()
        if session.call_state == CallState.HOLD:
            if roll < 0.5:
                services.session_resume(actor=SIMULATOR, session_id=session.id)
                return f"resumed {session.id}"
        elif session.channel == Channel.VOICE and roll < 0.25:
            services.session_hold(
                actor=SIMULATOR,
                session_id=session.id,
                reason=rng.choice([HoldReason.NONE, HoldReason.TRANSFERRING]),
            )
            return f"held {session.id}"
        elif session.channel == Channel.VOICE and roll < 0.35:
            services.conference_member_add(
                actor=SIMULATOR,
                session_id=session.id,
                destination=_phone(rng),
                from_number=_phone(rng),
            )
            return f"invited into {session.id}"
        if roll > 0.6:
            if telephony is not None and session.call_sid:  # the caller hangs up
                telephony.report_now(session.call_sid, ReportKind.COMPLETED)
            else:
                services.session_end(actor=SIMULATOR, session_id=session.id)
            return f"ended {session.id}"
    except DomainError as error:  # a user acted on the same call first: fine, move on
        return f"skipped {session.id}: {error}"
    return "idle"


def run(*, rate: float, seed: int | None, stop: threading.Event, max_steps: int | None = None):
    """Run `rate` events a minute until `stop` is set (or `max_steps` events have run)."""
    rng = random.Random(seed)
    interval = 60.0 / rate if rate > 0 else 1.0
    steps = 0
    while not stop.is_set() and (max_steps is None or steps < max_steps):
        close_old_connections()
        try:
            logger.debug("traffic: %s", step(rng))
        except Exception:
            logger.exception("simulated traffic step failed")
        steps += 1
        stop.wait(interval * rng.uniform(0.5, 1.5))
    close_old_connections()
