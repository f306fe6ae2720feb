"""The action unit: the one shape of every write to a session.

    phase 1, one short transaction: lock the session row and decide. An action that needs no
             provider records its change at once. One that does claims the session
             (`ActionInFlight`) and commits: nothing is written yet.
    phase 2, no transaction open, the pooled connection given back: ask the provider.
    phase 3, one short transaction: lock the row again, drop the claim and record what the
             provider really did, or its failure, as exactly one event.

Recording (`record`) is always the same: one UPDATE of the session's changed fields, the
members' changes, one event row, and one notice published after commit.

Per session, provider calls never interleave: an action that finds another one's claim waits
for it to go (`SESSION_ACTION_WAIT_SECONDS`), then is refused with a 409 that names the action
in progress, who started it and when. Claims older than `SESSION_ACTION_STALE_SECONDS` (their
process died mid-call) are taken over.
"""

import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sessions_app.errors import (
    ActionInProgress,
    DomainError,
    NotSupported,
    PreconditionFailed,
    SessionNotFound,
    TelephonyConflict,
    TelephonyFailed,
    TelephonyRejected,
    ValidationFailed,
)
from sessions_app.eventlog import describe_actor
from sessions_app.events import publish_on_commit
from sessions_app.models import (
    HOLDABLE_CHANNELS,
    ActionInFlight,
    CallSession,
    EventKind,
    SessionEvent,
    SessionMember,
    User,
    Via,
    call_state_move_allowed,
)
from sessions_app.selectors import session_etag_for, sessions_visible_to
from sessions_app.telephony import FailureKind, TelephonyError

from .conflicts import call_state_conflict, session_ended

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who is acting and through what: recorded on every event."""

    user: User | None
    via: str

    @property
    def name(self) -> str:
        """For `created_by` / `last_modified_by`: the username, or `provider` / `system`."""
        return self.user.get_username() if self.user else self.via

    @property
    def username(self) -> str:
        return self.user.get_username() if self.user else ""


PROVIDER = Actor(user=None, via=Via.PROVIDER)
SYSTEM = Actor(user=None, via=Via.SYSTEM)


# --- phase 1 helpers: locking and the rules ---------------------------------------------------


def lock_session(actor: Actor, session_id: str) -> CallSession:
    """Lock and return the session; the caller must be inside `transaction.atomic`.

    A session the actor may not see is indistinguishable from one that does not exist.
    """
    queryset = CallSession.objects if actor.user is None else sessions_visible_to(actor.user)
    try:
        return queryset.select_for_update().get(pk=session_id)
    except CallSession.DoesNotExist:
        raise SessionNotFound(session_id) from None


_AUDIO_ONLY = {
    "hold": "be held",
    "resume": "be resumed",
    "invite": "have a conference",
    "transfer": "be transferred",
    "monitor": "be monitored",
}


def require_allowed(session: CallSession, action: str, verb: str | None = None) -> None:
    """Refuse `action` ("hold", "resume", "invite", "end", "transfer", "monitor") unless
    `session.actions` allows it: 409 for an ended session or a state that does not allow it,
    400 for a session that is not a call."""
    if not session.actions.end:
        raise session_ended(session)
    if getattr(session.actions, action):
        return
    if action in _AUDIO_ONLY and session.channel not in HOLDABLE_CHANNELS:
        raise NotSupported(f"A {session.channel.lower()} session cannot {_AUDIO_ONLY[action]}")
    raise call_state_conflict(session, verb or action)


def require_move(session: CallSession, target: str, verb: str) -> None:
    """Refuse a call-state move that `CALL_STATE_TRANSITIONS` does not list (409)."""
    if not call_state_move_allowed(session.call_state, target):
        raise call_state_conflict(session, verb)


def member_by_call_sid(session: CallSession, call_sid: str | None, field: str) -> SessionMember:
    """The member on `call_sid` (default: the session's own call). The session must be
    locked: members are only ever written with their session's row locked."""
    call_sid = call_sid or session.call_sid
    if not call_sid:  # filter(call_sid=None) would match a member that has no call (IS NULL)
        raise ValidationFailed.for_field(
            field, "NotEmpty", f"'{field}' is required: this session has no call of its own."
        )
    member = session.members.filter(call_sid=call_sid).first()
    if member is None:
        raise ValidationFailed.for_field(
            field, "NotFound", f"No member of this session is on call '{call_sid}'"
        )
    return member


# --- changes and recording --------------------------------------------------------------------


@dataclass
class Change:
    """What one action does to one locked session, recorded as exactly one event.

    `session` and `members` give new values by model attribute; values equal to the current
    ones are dropped, so a change that changes nothing records nothing (unless `always`, as
    for a failure worth recording on its own). `also` names secondary kinds (a PATCH that holds
    and changes console data is `held`, also `console_data_changed`).
    """

    kind: str
    session: dict = field(default_factory=dict)
    members: list[tuple[SessionMember, dict]] = field(default_factory=list)
    new_members: list[SessionMember] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    also: list[str] = field(default_factory=list)
    always: bool = False

    def member(self, member: SessionMember, **values) -> "Change":
        self.members.append((member, values))
        return self

    def merge(self, other: "Change") -> "Change":
        """Add `other`'s changes to this one, its kind as a secondary kind."""
        self.session.update(other.session)
        self.members.extend(other.members)
        self.new_members.extend(other.new_members)
        self.data = {**other.data, **self.data}
        self.also.extend(k for k in (other.kind, *other.also) if k != self.kind)
        return self


def _diff(instance, values: dict) -> dict:
    return {
        name: [getattr(instance, name), value]
        for name, value in values.items()
        if getattr(instance, name) != value
    }


# Events are inserted under one transaction-level lock, held until commit, so that their
# sequence numbers are allocated and committed in the same order: a reader that has seen event
# N can never later find an N-1 (what "every event after N" needs).
_EVENT_ORDER_LOCK = 0x5E55_E7E7


def _serialise_event_commits() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_ORDER_LOCK])


def _live_kind(kind: str) -> str:
    return {
        EventKind.SESSION_STARTED: "created",
        EventKind.ENDED: "ended",
        EventKind.REDIRECTED: "ended",  # the call left for elsewhere: the session is over
    }.get(kind, "changed")


def record(session: CallSession, actor: Actor, change: Change) -> SessionEvent | None:
    """Apply `change` to `session` (locked by the caller) and record it as one event.

    One UPDATE of the session (its changed fields, `date_last_modified`, `last_modified_by`,
    and its `version`, which every event bumps),
    one UPDATE per changed member, one INSERT for new members, one event, one notice on
    commit. Returns None, writing nothing, if nothing changed and the change is not `always`.
    """
    changes = _diff(session, change.session)
    member_changes = {}
    changed_members = []
    for member, values in change.members:
        diff = _diff(member, values)
        if diff:
            member_changes[member.call_sid or f"member-{member.pk}"] = diff
            changed_members.append((member, values))
    if not (changes or member_changes or change.new_members or change.always):
        return None
    now = timezone.now()
    fields = ["version"]
    if changes or member_changes or change.new_members:
        for name, (_, value) in changes.items():
            setattr(session, name, value)
        session.date_last_modified = now
        session.last_modified_by = actor.name
        fields += [*changes, "date_last_modified", "last_modified_by"]
    # Every event is a new version, even one that changes no field (a failure): it is in the
    # session's Log. The row is locked, so the increment cannot race.
    session.version += 1
    session.save(update_fields=fields)
    for member, values in changed_members:
        for name, value in values.items():
            setattr(member, name, value)
        member.save(update_fields=list(values))
    for member in change.new_members:
        member.session = session
    if change.new_members:
        SessionMember.objects.bulk_create(change.new_members)
        _retry_reports_on_commit([m.call_sid for m in change.new_members if m.call_sid])
    data = dict(change.data)
    if changes:
        data["changes"] = changes
    if member_changes:
        data["members"] = member_changes
    if change.also:
        data["also"] = list(dict.fromkeys(change.also))
    return _insert_event(session, actor, change.kind, data, now)


def record_new_session(
    session: CallSession, members: list[SessionMember], actor: Actor, data: dict
) -> SessionEvent:
    """Insert a new session with its members and its `session_started` event (inside the
    caller's transaction)."""
    session.created_by = session.last_modified_by = actor.name
    session.save(force_insert=True)
    for member in members:
        member.session = session
    SessionMember.objects.bulk_create(members)
    _retry_reports_on_commit([m.call_sid for m in members if m.call_sid])
    return _insert_event(session, actor, EventKind.SESSION_STARTED, data, session.date_created)


def _insert_event(session: CallSession, actor: Actor, kind: str, data: dict, date) -> SessionEvent:
    """The one event of an action, and its one notice after commit."""
    _serialise_event_commits()
    event = SessionEvent.objects.create(
        session=session,
        kind=kind,
        data=data,
        actor=actor.user,
        actor_name=actor.username,
        via=actor.via,
        date=date,
    )
    publish_on_commit(
        session_id=session.id, account_id=session.account_id, kind=_live_kind(kind), seq=event.seq
    )
    return event


def _retry_reports_on_commit(call_sids: list[str]) -> None:
    """A call that just became known may have provider reports waiting for it."""
    if not call_sids:
        return
    from .inbox import inbox_process  # the inbox records through this module

    transaction.on_commit(lambda: inbox_process(call_sids=call_sids))


# --- actions with provider calls --------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One provider call of an action, e.g. `Step("hold CA…", lambda: provider.hold(...))`."""

    label: str
    call: Callable[[], object]


@dataclass
class Outcome:
    """What the provider did: the results of the steps that succeeded, in order, and the
    error that stopped the rest (None if every step succeeded)."""

    results: list = field(default_factory=list)
    error: Exception | None = None


@dataclass
class Plan:
    """An action that needs the provider, decided in phase 1 with the session locked.

    `conclude(session, outcome)` runs in phase 3 with the session locked again and returns the
    change the provider's work amounts to: all of it, or (after a failure) only what was done.
    """

    action: str
    steps: list[Step]
    conclude: Callable[[CallSession, Outcome], Change]


Decision = Change | Plan | None


def run_action(
    *,
    actor: Actor,
    session_id: str,
    decide: Callable[[CallSession], Decision],
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Run one action on one session in the unit's three phases (see the module docstring).

    `decide(session)` checks the rules against the locked session and returns a Change to
    record now, a Plan for the provider, or None (nothing to do). It must not write.
    `if_match`: the session's `ETag`s (or "*") the client's `If-Match` accepts; if the session
    has changed since, PreconditionFailed, and nothing is done.
    """
    deadline = time.monotonic() + settings.SESSION_ACTION_WAIT_SECONDS
    while True:
        with transaction.atomic(durable=True):
            session = lock_session(actor, session_id)
            # Decide only once no other action is at the provider: its result may change
            # what this one means (a resume waits for the hold in flight).
            busy = _claim_in_the_way(session)
            if busy is None:
                # Compared once no action is in flight: the one in flight makes a new version.
                _require_etag(session, if_match)
                decision = decide(session)
                if isinstance(decision, Plan) and not decision.steps:
                    decision = decision.conclude(session, Outcome())
                if not isinstance(decision, Plan):
                    if decision is not None:
                        record(session, actor, decision)
                    return session
                plan = decision
                claim = ActionInFlight.objects.create(
                    session=session, action=plan.action, actor_name=actor.username, via=actor.via
                )
                break
        if time.monotonic() >= deadline:
            raise ActionInProgress(
                action=busy.action,
                started_by=describe_actor(busy.actor_name, busy.via),
                started_at=busy.started_at,
            )
        _wait_for_release(deadline)

    release_connection()
    outcome = Outcome()
    for step in plan.steps:
        try:
            outcome.results.append(step.call())
        except Exception as error:  # noqa: BLE001 - recorded, then raised below
            outcome.error = error
            break

    with transaction.atomic(durable=True):
        session = lock_session(SYSTEM, session_id)  # the actor was allowed in phase 1
        ActionInFlight.objects.filter(session_id=session_id, token=claim.token).delete()
        transaction.on_commit(_announce_release)
        ended_meanwhile = session.ended
        if not ended_meanwhile:
            change = plan.conclude(session, outcome)
            if outcome.error is not None:
                change = _as_failure(change, plan, outcome)
            record(session, actor, change)
    if outcome.error is not None:
        if isinstance(outcome.error, TelephonyError):
            raise telephony_failure(outcome.error) from outcome.error
        raise outcome.error
    if ended_meanwhile:
        raise session_ended(session)
    return session


def telephony_failure(error: TelephonyError) -> DomainError:
    """The domain error a provider's refusal or failure is: the call is not in a state for it
    (409), the provider refused what was asked (400), or it failed (502)."""
    if error.kind == FailureKind.INVALID_STATE:
        return TelephonyConflict(f"The telephony provider refused: {error}")
    if error.kind == FailureKind.REJECTED:
        return TelephonyRejected(f"The telephony provider refused: {error}")
    return TelephonyFailed(f"The telephony provider failed: {error}")


def _require_etag(session: CallSession, if_match: Collection[str] | None) -> None:
    if if_match is None or "*" in if_match:
        return
    current = session_etag_for(user=None, session_id=session.pk)
    if current not in if_match:
        raise PreconditionFailed(current)


def _as_failure(done: Change, plan: Plan, outcome: Outcome) -> Change:
    """The failure of `plan` as one `provider_failed` event that also records `done`: what the
    provider did before it failed (the conference it created, the members it resumed)."""
    error = outcome.error
    message = str(error) if isinstance(error, TelephonyError) else "internal error"
    steps_done = [step.label for step in plan.steps[: len(outcome.results)]]
    return Change(
        kind=EventKind.PROVIDER_FAILED,
        session=done.session,
        members=done.members,
        new_members=done.new_members,
        data={**done.data, "action": plan.action, "error": message, "done": steps_done},
        always=True,
    )


def _claim_in_the_way(session: CallSession) -> ActionInFlight | None:
    """Another action's claim on the locked session, if any. A stale one (its process died
    mid-call) is removed and taken over."""
    # Its own query, after the lock: a row joined to the locked one would come from the
    # snapshot taken before waiting for the lock, and miss a claim committed meanwhile.
    current = ActionInFlight.objects.filter(session=session).first()
    if current is None:
        return None
    stale_before = timezone.now() - timedelta(seconds=settings.SESSION_ACTION_STALE_SECONDS)
    if current.started_at > stale_before:
        return current
    logger.warning("taking over the stale claim of %s on session %s", current, session.id)
    current.delete()
    return None


# Waiters in this process wake as soon as a claim here is released; claims released by other
# processes are noticed by polling.
_released = threading.Condition()
_POLL_SECONDS = 0.1


def _announce_release() -> None:
    with _released:
        _released.notify_all()


def _wait_for_release(deadline: float) -> None:
    release_connection()
    with _released:
        _released.wait(timeout=max(0.0, min(_POLL_SECONDS, deadline - time.monotonic())))


def release_connection() -> None:
    """Give this thread's pooled connection back while it waits (on the provider, or for
    another action): a slow provider must not hold the pool. Outside a transaction only; a
    connection that is not pooled is kept (it holds no lock outside a transaction)."""
    if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
        connection.close()
