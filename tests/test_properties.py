"""Random sequences of API actions and telephony-provider reports, checked after every step.

A hypothesis state machine (`LiveCallMachine`) drives the real services on PostgreSQL, in a
transactional test (real commits: the inbox applies reports on commit). Each example has its
own account and user, and starts with a ringing incoming voice call (`session_start`); another
call comes in whenever fewer than two are live. At each step:

- a user acting through the API holds (the session's call or a member's, with or without a
  reason), resumes, patches (any subset of console data, call state, hold reason, queue
  state), invites (valid destinations, the simulator's failing test numbers, invalid ones),
  ends the session, or hangs up one member's leg; call SIDs are sometimes another session's;
- or the provider reports answered / completed / failed / held / unheld / muted / unmuted /
  ringing about the sessions' calls, their members' calls, the call the next invite will make
  or the next incoming call. A report arrives at once, or is held back and arrives at a later
  step (out of order, or before its call exists); delivered reports are delivered again with
  the same event id (duplicates); the periodic inbox retry runs.

Invites get predictable call SIDs (the provider's `dial_into_conference` is wrapped to return
SIDs made in advance), so that a report can be sent about a call before the invite that makes
it: the inbox must keep it pending and apply it when the invite commits. Hypothesis has no
weights for rules, so two rules (`a_user_acts`, `the_provider_reports`) draw what happens,
what the calls' states make meaningful more often than the rest.

Each step checks what it must have done (invariant 6 and the expected effects): a refused
action (a DomainError) changes nothing; a provider failure records exactly one
`provider_failed` event and nothing but the conference it made; a successful action records
exactly one event, by its user, of the kind it names, or records none and changes nothing; an
action on an ended session is refused; holding a connected call, resuming a held one, ending a
live one is never refused; a patch sets every field it was given. A duplicate report changes
nothing. A new report about a known call is applied (one event, by the provider, with the
effect it names) exactly when the session's state says it should be, else ignored with a note;
one about a call not made yet stays pending.

After every step, for every session of the example, read fresh from the database:

1. ended iff Disconnected;
2. an ended session is on nobody's hold, has a completion date, is not dialing, and none of
   its members is still on the call;
3. no hold details (reason, holder, queue, time) unless the call is held, and a held call has
   a hold time. (A hold the provider reports on the session's own leg has no queue and no
   holder, so those are not required while held);
4. call SIDs are unique among a session's members;
5. events are only ever appended, in increasing `seq`, each with a non-empty message; no
   action claim (`ActionInFlight`) outlives its action;
7. one inbox entry per provider event id; no report about a call a session has stays pending;
8. dialing (`dial_state` Active) iff the session is live and an invited member is ringing;
9. the wire `Log` (the API's session record) is the events' messages, in order;
10. every stored `SessionInfo` document that still counts is, byte for byte, the session
    rendered afresh from its rows, and so is what a reader gets (which stores them all again,
    so the next step's writes are checked against stored documents).

Settings are derandomized (CI is reproducible) and sized to run well under a minute. The run
must also reach a few milestones (user and provider holds, ends, invites answered by reports
that came first, duplicates, ...), so that a change that stops the machine exploring fails
loudly instead of passing vacuously.
"""

import itertools
from collections import Counter, deque
from contextlib import contextmanager

import hypothesis
import pytest
from django.db.models import F
from hypothesis import HealthCheck, event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sessions_app import documents, selectors, services
from sessions_app.errors import DomainError, TelephonyFailed
from sessions_app.models import (
    ActionInFlight,
    CallSession,
    CallState,
    DialState,
    EventKind,
    HoldReason,
    InboxStatus,
    MemberCallState,
    MemberRole,
    ProviderInboxEntry,
    QueueState,
    SessionDocument,
    SessionEvent,
    SessionMember,
    Via,
)
from sessions_app.telephony import ProviderReport, ReportKind
from sessions_app.telephony.simulated import FAILING_DESTINATIONS, SimulatedProvider
from tests.factories import AccountFactory, UserFactory

PROVIDER_NAME = "sim"
OWN_NUMBER = "+15550002222"  # what the incoming calls dialled: the invites' default caller id
DESTINATIONS = [
    "+15550003333",
    "+15550004444",
    "sip:agent@example.com",
    "client:alice",
    *FAILING_DESTINATIONS,  # the simulator refuses to dial these: TelephonyFailed
    "12345",  # not a destination at all: refused before anything happens
]
MAX_LIVE_SESSIONS = 2  # calls at once; another comes in when one has ended
LIVE = (CallState.RINGING, CallState.CONNECTED, CallState.PASSIVE, CallState.HOLD)
NOT_GIVEN = "(not given)"  # a PATCH without ConsoleData (`services.UNSET`), as the draw shows it
CONSOLE_DATA = [NOT_GIVEN, None, "", "notes", "VIP caller"]
AGENT_NAMES = ["Bob Agent", "Carol Agent"]
# Answers and holds matter more to the state than mutes and ringing: drawn more often. (JOINED,
# which needs a conference, and OTHER, which changes nothing, are left to tests/callbacks/.)
RANDOM_REPORT_KINDS = [
    *(kind for kind in ReportKind if kind not in (ReportKind.JOINED, ReportKind.OTHER)),
    ReportKind.ANSWERED,
    ReportKind.HELD,
    ReportKind.UNHELD,
]
ON_THE_CALL = {MemberCallState.RINGING, MemberCallState.CONNECTED, MemberCallState.HOLD}
HOLD_DETAILS = ("held_by_user_id", "hold_queue_name", "held_at")
PATCH_KINDS = {
    EventKind.HELD,
    EventKind.RESUMED,
    EventKind.ENDED,
    EventKind.CALL_STATE_CHANGED,
    EventKind.HOLD_REASON_CHANGED,
    EventKind.QUEUE_STATE_CHANGED,
    EventKind.CONSOLE_DATA_CHANGED,
}

SETTINGS = hypothesis.settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized: there is nothing to replay
    # A failure is shrunk to a short sequence of steps: that can take minutes, every step
    # being real SQL (hypothesis gives up after five).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Call SIDs and event ids come from a counter, not at random, so that runs are identical. They
# must not repeat across examples (the database is flushed only after the whole test): a report
# about a SID an earlier example used would be applied to that example's session.
_serial = itertools.count(1)


def unique_call_sid() -> str:
    return f"CA7e57{next(_serial):028x}"


def unique_event_id() -> str:
    return f"prop-{next(_serial)}"


# What the whole run reached, over all examples: a run that no longer reaches one of these is
# no longer testing it.
reached: Counter = Counter()
MILESTONES_REQUIRED = [
    "session held by a user",
    "session held by the provider",
    "session resumed",
    "session ended by a user",
    "session ended by the provider",
    "member hung up by a user",
    "member answered",
    "invite answered by a report that came before it",
    "call answered by a report that came before it",
    "invite failed at the provider",
    "duplicate report",
    "report delivered out of order",
    "patch changed several fields",
    "action refused",
]


def milestone(name: str) -> None:
    reached[name] += 1
    event(name)


class PredictableDialer:
    """Stands in for the provider's `dial_into_conference`: the real one still runs (and still
    fails for the test numbers), but the call it makes gets the next SID of `upcoming`, made in
    advance so that reports about it can be sent before the invite."""

    def __init__(self, original):
        self.original = original
        self.upcoming: deque[str] = deque()

    def ensure(self, count: int) -> list[str]:
        """The SIDs the next `count` successful invites will get."""
        while len(self.upcoming) < count:
            self.upcoming.append(unique_call_sid())
        return list(self.upcoming)[:count]

    def __call__(self, *, conference_sid: str, destination: str, from_number: str) -> str:
        self.original(
            conference_sid=conference_sid, destination=destination, from_number=from_number
        )
        self.ensure(1)
        return self.upcoming.popleft()


@contextmanager
def predictable_invite_sids():
    """Wrap the process's provider's `dial_into_conference` for the duration. The provider is
    one cached instance, so the function-scoped `monkeypatch` fixture is not the tool here."""
    provider = services.get_provider()
    assert isinstance(provider, SimulatedProvider), "the machine relies on the simulator"
    assert "dial_into_conference" not in vars(provider), "already patched"
    dialer = PredictableDialer(provider.dial_into_conference)
    provider.dial_into_conference = dialer
    try:
        yield dialer
    finally:
        del provider.dial_into_conference  # the class's method again


# --- reading a snapshot (rows as dicts, as `.values()` gives them) --------------------------


def members_of(state: dict, session_id: str | None = None) -> list[dict]:
    return [m for m in state["members"] if session_id in (None, m["session_id"])]


def call_sids_of(state: dict, session_id: str | None = None) -> list[str]:
    """Members' call SIDs (of one session, or of all), in a stable order."""
    return [m["call_sid"] for m in members_of(state, session_id) if m["call_sid"]]


def member_on(state: dict, session_id: str, call_sid: str | None) -> dict | None:
    return next((m for m in members_of(state, session_id) if m["call_sid"] == call_sid), None)


def owner_of(state: dict, call_sid: str) -> tuple[dict, dict] | None:
    """(session, member) of the call, if a session of the example has it."""
    member = next((m for m in state["members"] if m["call_sid"] == call_sid), None)
    return (state["sessions"][member["session_id"]], member) if member else None


def message_of(event_row: dict) -> str:
    return SessionEvent(**event_row).message


def handling(entry: dict) -> dict:
    """An inbox row without its retry schedule (a new report about a call still unknown
    postpones the earlier ones about it: that is all it may do to them)."""
    return {k: v for k, v in entry.items() if k not in ("attempts", "next_attempt_at")}


def report_should_apply(session: dict, member: dict, kind: str) -> bool:
    """Whether a report of `kind` about `member`'s call must change the session (be applied,
    one event) rather than be ignored, from the state before it arrives."""
    if session["ended"]:
        return False
    own = member["is_original_member"]
    if kind == ReportKind.ANSWERED:
        if own:
            return session["call_state"] in (CallState.RINGING, CallState.PASSIVE)
        return member["call_state"] == MemberCallState.RINGING
    if kind in (ReportKind.COMPLETED, ReportKind.FAILED):
        return own or member["call_state"] != MemberCallState.NONE
    if kind == ReportKind.LEFT:  # the session's own call may go on elsewhere
        return not own and member["call_state"] != MemberCallState.NONE
    if kind == ReportKind.HELD:
        return member["call_state"] == MemberCallState.CONNECTED
    if kind == ReportKind.UNHELD:
        return member["call_state"] == MemberCallState.HOLD
    if kind in (ReportKind.MUTED, ReportKind.UNMUTED):
        return member["muted"] != (kind == ReportKind.MUTED)
    return False  # ringing, joined without a conference, other: nothing to do


def report_event_kind(kind: str, own: bool) -> str:
    """The event an applied report records."""
    return {
        ReportKind.ANSWERED: EventKind.ANSWERED if own else EventKind.MEMBER_ANSWERED,
        ReportKind.COMPLETED: EventKind.ENDED if own else EventKind.MEMBER_LEFT,
        ReportKind.FAILED: EventKind.ENDED if own else EventKind.MEMBER_LEFT,
        ReportKind.LEFT: EventKind.MEMBER_LEFT,
        ReportKind.HELD: EventKind.HELD if own else EventKind.MEMBER_HELD,
        ReportKind.UNHELD: EventKind.RESUMED if own else EventKind.MEMBER_RESUMED,
        ReportKind.MUTED: EventKind.MEMBER_MUTED,
        ReportKind.UNMUTED: EventKind.MEMBER_UNMUTED,
    }[kind]


def some_session_is(machine: "LiveCallMachine", *call_states: str) -> bool:
    return any(s["call_state"] in call_states for s in machine.state["sessions"].values())


def some_invited_member_is_on_the_call(machine: "LiveCallMachine") -> bool:
    return any(
        not m["is_original_member"] and m["call_state"] != MemberCallState.NONE
        for m in machine.state["members"]
    )


def ringing_calls(machine: "LiveCallMachine") -> list[str]:
    """Calls an answer would connect: ringing members, and passive sessions' own calls."""
    sessions = machine.state["sessions"]
    return [
        m["call_sid"]
        for m in machine.state["members"]
        if m["call_state"] == MemberCallState.RINGING
        or (
            m["is_original_member"] and sessions[m["session_id"]]["call_state"] == CallState.PASSIVE
        )
    ]


class LiveCallMachine(RuleBasedStateMachine):
    def __init__(self, dialer: PredictableDialer):
        super().__init__()
        self.dialer = dialer
        dialer.upcoming.clear()  # SIDs promised to an earlier example are never dialled
        self.account = AccountFactory()
        self.user = UserFactory(accounts=[self.account])
        self.actor = services.Actor(user=self.user, via=Via.API)
        self.session_ids: list[str] = []
        # The next call exists at the provider (and may be reported on) before it is
        # recorded here.
        self.next_session_sid = unique_call_sid()
        self.held_back: list[ProviderReport] = []  # sent by the provider, not delivered yet
        self.delivered: list[ProviderReport] = []
        self.state = self.snapshot()
        self.events_on_the_wire: list[dict] | None = None  # as last checked against the API

    @initialize(data=st.data())
    def the_first_call_comes_in(self, data):
        self.a_call_comes_in(data)

    def snapshot(self) -> dict:
        """Every row of this example, fresh from the database. `self.state` is the latest one,
        read after every write: what the invariants check and the next step starts from."""
        ids = self.session_ids
        return {
            "sessions": {row["id"]: row for row in CallSession.objects.filter(pk__in=ids).values()},
            "members": list(
                SessionMember.objects.filter(session_id__in=ids).order_by("id").values()
            ),
            "events": list(
                SessionEvent.objects.filter(session_id__in=ids).order_by("seq").values()
            ),
            "inbox": list(
                ProviderInboxEntry.objects.filter(
                    provider=PROVIDER_NAME, event_id__in=[r.event_id for r in self.delivered]
                )
                .order_by("id")
                .values()
            ),
        }

    def pick_session(self, data, *call_states: str) -> dict:
        """A session of the example, more often one in `call_states` (where the action means
        something) than another (where it tests the refusal)."""
        useful = [
            i for i in self.session_ids if self.state["sessions"][i]["call_state"] in call_states
        ]
        recent = self.session_ids[-3:]  # not every call that ended long ago
        session_id = data.draw(st.sampled_from([*useful, *useful, *recent]), label="session")
        return self.state["sessions"][session_id]

    def new_events(self, before: dict, after: dict) -> list[dict]:
        """The events recorded between two snapshots; those before stay as they were (5)."""
        known = len(before["events"])
        assert after["events"][:known] == before["events"], "events were rewritten or lost"
        return after["events"][known:]

    # --- sessions ------------------------------------------------------------------------------

    @precondition(
        lambda self: (
            sum(not s["ended"] for s in self.state["sessions"].values()) < MAX_LIVE_SESSIONS
        )
    )
    @rule(data=st.data())
    def a_call_comes_in(self, data):
        """A ringing call arrives. An agent may pick it up at once, and the provider's report
        of that may even come before the call is recorded (the inbox keeps it until then)."""
        call_sid, self.next_session_sid = self.next_session_sid, unique_call_sid()
        answered = data.draw(st.sampled_from(["later", "first", "at once"]), label="answered")
        if answered == "first":
            self.deliver_first_time(self.report(data, call_sid, ReportKind.ANSWERED))
        before = self.state
        session = services.session_start(
            actor=services.SYSTEM,
            account_id=self.account.id,
            call_sid=call_sid,
            from_address=f"+1555100{len(self.session_ids):04d}",
            from_name="Ada Lovelace",
            to_address=OWN_NUMBER,
        )
        self.session_ids.append(session.id)
        after = self.snapshot()
        assert self.new_events(before, after)[0]["kind"] == EventKind.SESSION_STARTED
        started, *early = [e for e in after["events"] if e["session_id"] == session.id]
        assert (started["kind"], started["via"]) == (EventKind.SESSION_STARTED, Via.SYSTEM)
        # Reports that came before the call: applied (or ignored) as soon as it was recorded.
        applied = [e for e in after["inbox"] if e["call_sid"] == call_sid and e["session_event_id"]]
        assert [e["seq"] for e in early] == [a["session_event_id"] for a in applied]
        if any(e["kind"] == EventKind.ANSWERED for e in early):
            milestone("call answered by a report that came before it")
        self.state = after
        if answered == "at once":
            self.deliver_first_time(self.report(data, call_sid, ReportKind.ANSWERED))

    # --- what happens next: a user acts, or the provider reports ------------------------------
    # Hypothesis has no weights for rules: these two draw what happens, what the calls' states
    # make meaningful more often, and everything now and then (to be refused, or ignored).

    @precondition(lambda self: some_session_is(self, *LIVE))
    @rule(data=st.data())
    def a_user_acts(self, data):
        # What the calls' states make meaningful first (hypothesis draws the first of a list
        # more often than the others), then every action, wherever it may be refused.
        actions = []
        if some_session_is(self, CallState.CONNECTED, CallState.HOLD):
            actions += ["invite", "invite", "invite"]
        if some_session_is(self, CallState.CONNECTED, CallState.PASSIVE):
            actions += ["hold", "hold"]
        if some_session_is(self, CallState.HOLD):
            actions += ["resume", "resume"]
        if some_invited_member_is_on_the_call(self):
            actions += ["hang_up_member", "hang_up_member"]
        actions += ["patch", "patch", "invite", "hold", "resume", "hang_up_member", "end_session"]
        getattr(self, data.draw(st.sampled_from(actions), label="user action"))(data)

    @rule(data=st.data())
    def the_provider_reports(self, data):
        reports = ["reports_something"] * 3
        if ringing_calls(self):  # first, to be drawn most: ringing calls get answered
            reports = ["reports_an_answer"] * 3 + reports
        if self.held_back:
            reports += ["delivers_a_held_back_report"] * 2
        if self.delivered:
            reports.append("redelivers_a_report")
        if any(e["status"] == InboxStatus.PENDING for e in self.state["inbox"]):
            reports.append("retries_the_inbox")
        getattr(self, data.draw(st.sampled_from(reports), label="provider"))(data)

    # --- API actions ---------------------------------------------------------------------------

    def api_action(self, label: str, session_id: str, kinds: set[str], action) -> tuple:
        """Run `action` as the user and check what it recorded against what it changed.
        Returns (outcome, the session's row before, the event it recorded or None, after)."""
        before = self.state
        try:
            action()
        except TelephonyFailed:
            outcome = "provider failed"
        except DomainError as error:
            outcome = "refused"
            event(f"{label} refused: {type(error).__name__}")
        else:
            outcome = "done"
        event(f"{label}: {outcome}")
        after = self.state = self.snapshot()
        new_events = self.new_events(before, after)
        was, now = before["sessions"][session_id], after["sessions"][session_id]
        # Nothing of another session changes.
        assert {e["session_id"] for e in new_events} <= {session_id}
        for other in self.session_ids:
            if other != session_id:
                assert after["sessions"][other] == before["sessions"][other]
                assert members_of(after, other) == members_of(before, other)
        if was["ended"]:
            assert outcome == "refused", f"{label} of an ended session was not refused"

        if outcome == "refused":
            milestone("action refused")
            assert after == before, f"the refused {label} changed something"
            return outcome, was, None, after
        mine = [e for e in new_events if e["via"] == Via.API]
        for recorded in mine:
            assert (recorded["actor_id"], recorded["actor_name"]) == (
                self.user.id,
                self.user.username,
            )
        if outcome == "provider failed":
            assert [e["kind"] for e in new_events] == [EventKind.PROVIDER_FAILED]
            assert mine == new_events
            assert after["members"] == before["members"]
            changed = {name for name, value in now.items() if value != was[name]}
            # Only the conference the provider made before the dial failed is recorded, and
            # the failure itself (in the Log) makes a new version.
            assert changed <= {
                "conference_sid",
                "date_last_modified",
                "last_modified_by",
                "version",
            }
            assert now["version"] == was["version"] + 1
            return outcome, was, mine[0], after
        if not mine:
            assert after == before, f"{label} recorded no event but changed something"
            return outcome, was, None, after
        assert len(mine) == 1 and new_events[0] == mine[0], f"{label} recorded {new_events}"
        assert mine[0]["kind"] in kinds, f"{label} recorded {mine[0]['kind']}"
        assert now["date_last_modified"] > was["date_last_modified"]
        # Anything after it is a report that had come before its call, applied on commit.
        applied_now = [
            entry
            for old, entry in zip(before["inbox"], after["inbox"], strict=True)
            if old["status"] == InboxStatus.PENDING and entry["status"] == InboxStatus.APPLIED
        ]
        assert [e["via"] for e in new_events[1:]] == [Via.PROVIDER] * len(applied_now)
        assert [e["seq"] for e in new_events[1:]] == [a["session_event_id"] for a in applied_now]
        return outcome, was, mine[0], after

    def any_call_sid(self, data, label: str) -> str:
        """The call of some member of this example: sometimes of another session."""
        return data.draw(st.sampled_from(call_sids_of(self.state)), label=label)

    def hold(self, data):
        session = self.pick_session(data, CallState.CONNECTED, CallState.PASSIVE, CallState.HOLD)
        # None: the session's own call; or some member's, maybe of another session.
        call_sid = data.draw(st.none() | st.sampled_from(call_sids_of(self.state)), label="call")
        reason = data.draw(st.sampled_from([None, *HoldReason]), label="reason")
        reason_given = {} if reason is None else {"reason": reason}
        target_sid = call_sid or session["call_sid"]
        target = member_on(self.state, session["id"], target_sid)
        outcome, was, recorded, after = self.api_action(
            "hold",
            session["id"],
            {EventKind.HELD},
            lambda: services.session_hold(
                actor=self.actor, session_id=session["id"], call_sid=call_sid, **reason_given
            ),
        )
        holdable = (
            not was["ended"]
            and was["call_state"] in (CallState.CONNECTED, CallState.PASSIVE, CallState.HOLD)
            and target is not None
            and target["call_state"] in (MemberCallState.CONNECTED, MemberCallState.HOLD)
        )
        assert (outcome == "done") == holdable, f"hold of {target}: {outcome}"
        if outcome != "done":
            return
        now = after["sessions"][session["id"]]
        assert now["call_state"] == CallState.HOLD
        assert member_on(after, session["id"], target_sid)["call_state"] == MemberCallState.HOLD
        if recorded:
            milestone("session held by a user")
            assert now["hold_reason"] == (reason or HoldReason.NONE)
            assert now["held_by_user_id"] == self.user.id
            assert now["hold_queue_name"] and now["held_at"]
        else:  # holding a held call changes nothing
            assert was["call_state"] == CallState.HOLD
            assert target["call_state"] == MemberCallState.HOLD

    def resume(self, data):
        session = self.pick_session(data, CallState.HOLD)
        outcome, was, recorded, after = self.api_action(
            "resume",
            session["id"],
            {EventKind.RESUMED},
            lambda: services.session_resume(actor=self.actor, session_id=session["id"]),
        )
        assert (outcome == "done") == (was["call_state"] == CallState.HOLD), outcome
        if outcome == "done":
            milestone("session resumed")
            assert recorded, "a resume always changes the session"
            assert after["sessions"][session["id"]]["call_state"] == CallState.CONNECTED
            assert MemberCallState.HOLD not in {
                m["call_state"] for m in members_of(after, session["id"])
            }

    def patch(self, data):
        session = self.pick_session(data, *LIVE)
        console_data = data.draw(st.sampled_from(CONSOLE_DATA), label="console_data")
        console_data = services.UNSET if console_data == NOT_GIVEN else console_data
        # No change of call state more often than each change, or most calls would end here.
        call_state = data.draw(st.sampled_from([None, None, None, *CallState]), label="call_state")
        hold_reason = data.draw(st.sampled_from([None, *HoldReason]), label="hold_reason")
        queue_state = data.draw(st.sampled_from([None, *QueueState]), label="queue_state")
        outcome, was, recorded, after = self.api_action(
            "patch",
            session["id"],
            PATCH_KINDS,
            lambda: services.session_patch(
                actor=self.actor,
                session_id=session["id"],
                console_data=console_data,
                call_state=call_state,
                hold_reason=hold_reason,
                queue_state=queue_state,
            ),
        )
        if outcome != "done":
            return
        if recorded and recorded["data"].get("also"):
            milestone("patch changed several fields")
        # All or nothing, and it was all: every field given now has the value given.
        now = after["sessions"][session["id"]]
        if console_data is not services.UNSET:
            assert now["console_data"] == console_data
        if queue_state is not None:
            assert now["queue_state"] == queue_state
        if call_state is not None:
            assert now["call_state"] == call_state
        if hold_reason is not None:
            held = now["call_state"] == CallState.HOLD
            assert now["hold_reason"] == (hold_reason if held else HoldReason.NONE)

    def invite(self, data):
        session = self.pick_session(data, CallState.CONNECTED, CallState.HOLD)
        destination = data.draw(st.sampled_from(DESTINATIONS), label="destination")
        from_number = data.draw(
            st.sampled_from([None, OWN_NUMBER, "+15550009999", "555"]), label="from_number"
        )
        anchor = data.draw(
            st.none() | st.sampled_from(call_sids_of(self.state, session["id"])), label="anchor"
        )
        [new_sid] = self.dialer.ensure(1)
        if data.draw(st.booleans(), label="its answer comes first"):
            self.deliver_first_time(self.report(data, new_sid, ReportKind.ANSWERED))
        outcome, was, recorded, after = self.api_action(
            "invite",
            session["id"],
            {EventKind.MEMBER_INVITED},
            lambda: services.conference_member_add(
                actor=self.actor,
                session_id=session["id"],
                destination=destination,
                from_number=from_number,
                call_sid=anchor,
            ),
        )
        if outcome == "provider failed":
            milestone("invite failed at the provider")
            assert destination in FAILING_DESTINATIONS
        if outcome != "done":
            assert self.dialer.upcoming[0] == new_sid, "a call that was never made has a SID"
            return
        assert recorded, "an invite always adds a member"
        now = after["sessions"][session["id"]]
        member = member_on(after, session["id"], new_sid)
        assert (member["identity"], member["role"]) == (destination, MemberRole.TRANSFER)
        assert not member["is_original_member"]
        assert now["most_recent_participant_call_sid"] == new_sid
        assert now["conference_sid"]
        if member["call_state"] != MemberCallState.RINGING:
            milestone("invite answered by a report that came before it")

    def end_session(self, data):
        session = self.pick_session(data, CallState.CONNECTED, CallState.PASSIVE, CallState.HOLD)
        # No call, or the session's own: either way the whole session ends.
        call_sid = data.draw(st.sampled_from([None, session["call_sid"]]), label="call")
        outcome, was, recorded, after = self.api_action(
            "end",
            session["id"],
            {EventKind.ENDED},
            lambda: services.session_end(
                actor=self.actor, session_id=session["id"], call_sid=call_sid
            ),
        )
        assert (outcome == "done") == (not was["ended"]), outcome
        if outcome == "done":
            milestone("session ended by a user")
            assert recorded and after["sessions"][session["id"]]["ended"]

    def hang_up_member(self, data):
        invited = [
            m
            for m in self.state["members"]
            if not m["is_original_member"] and m["call_state"] != MemberCallState.NONE
        ]
        # Mostly an invited member on the call, by its session; else any call, any session.
        member = data.draw(st.sampled_from([None, *invited, *invited]), label="member")
        if member is None:
            session = self.pick_session(data)
            call_sid = self.any_call_sid(data, "call")
        else:
            session, call_sid = self.state["sessions"][member["session_id"]], member["call_sid"]
        whole = call_sid == session["call_sid"]  # its own call: the session ends
        outcome, was, recorded, after = self.api_action(
            "end" if whole else "hang up",
            session["id"],
            {EventKind.ENDED if whole else EventKind.MEMBER_LEFT},
            lambda: services.session_end(
                actor=self.actor, session_id=session["id"], call_sid=call_sid
            ),
        )
        if outcome != "done":
            return
        assert recorded, "hanging up always changes something"
        if whole:
            milestone("session ended by a user")
        else:
            milestone("member hung up by a user")
            assert member_on(after, session["id"], call_sid)["call_state"] == MemberCallState.NONE

    # --- provider reports ----------------------------------------------------------------------

    def report(self, data, call_sid: str, kind: str) -> ProviderReport:
        details = {}
        if kind == ReportKind.ANSWERED:
            details["answered_by_name"] = data.draw(st.sampled_from(AGENT_NAMES), label="by")
        elif kind in (ReportKind.COMPLETED, ReportKind.FAILED):
            details["status"] = data.draw(
                st.sampled_from(["completed", "busy", "no-answer"]), label="status"
            )
        return ProviderReport(
            provider=PROVIDER_NAME,
            event_id=unique_event_id(),
            call_sid=call_sid,
            kind=kind,
            data=details,
        )

    def calls_not_made_yet(self) -> list[str]:
        """The call the next invite will make, and the next session's."""
        return [*self.dialer.ensure(1), self.next_session_sid]

    def send(self, data, report: ProviderReport) -> None:
        """The provider sends `report`: it arrives now, or is held back for a later step."""
        if data.draw(st.sampled_from([False, False, True]), label="held back"):
            self.held_back.append(report)
        else:
            self.deliver_first_time(report)

    def reports_something(self, data):
        # Mostly about calls of live sessions, now and then about any other.
        live = [
            m["call_sid"]
            for m in self.state["members"]
            if not self.state["sessions"][m["session_id"]]["ended"]
        ]
        calls = [*live, *live, *live, *call_sids_of(self.state), *self.calls_not_made_yet()]
        call_sid = data.draw(st.sampled_from(calls), label="call")
        kind = data.draw(st.sampled_from(RANDOM_REPORT_KINDS), label="kind")
        self.send(data, self.report(data, call_sid, kind))

    def reports_an_answer(self, data):
        """Calls that ring get answered, far more often than random reports would make them:
        the sessions' own calls while ringing or passive, invited members while ringing."""
        call_sid = data.draw(st.sampled_from(ringing_calls(self)), label="call")
        self.send(data, self.report(data, call_sid, ReportKind.ANSWERED))

    def delivers_a_held_back_report(self, data):
        index = data.draw(st.integers(0, len(self.held_back) - 1), label="report")
        if index < len(self.held_back) - 1:
            milestone("report delivered out of order")
        self.deliver_first_time(self.held_back.pop(index))

    def deliver_first_time(self, report: ProviderReport) -> None:
        before = self.state
        owner = owner_of(before, report.call_sid)
        entry = services.provider_report_receive(report)
        self.delivered.append(report)
        after = self.state = self.snapshot()
        assert after["inbox"][-1]["id"] == entry.pk
        # Earlier reports are handled as they were.
        assert [handling(e) for e in after["inbox"][:-1]] == [handling(e) for e in before["inbox"]]
        new_events = self.new_events(before, after)
        unchanged = (after["sessions"], after["members"]) == (before["sessions"], before["members"])

        if owner is None:  # its call is not known yet: kept for when it is
            event("report about a call not made yet")
            assert entry.status == InboxStatus.PENDING
            assert unchanged and not new_events
            return
        session, member = owner
        own = member["is_original_member"]
        should_apply = report_should_apply(session, member, report.kind)
        event(f"report {report.kind}: {'applied' if should_apply else 'ignored'}")
        if not should_apply:
            assert entry.status == InboxStatus.IGNORED and entry.note, entry.note
            assert unchanged and not new_events
            return
        assert entry.status == InboxStatus.APPLIED, entry.note
        [recorded] = new_events
        assert recorded["seq"] == entry.session_event_id
        assert (recorded["session_id"], recorded["via"]) == (session["id"], Via.PROVIDER)
        assert recorded["kind"] == report_event_kind(report.kind, own)
        now = after["sessions"][session["id"]]
        member_now = member_on(after, session["id"], member["call_sid"])
        if report.kind == ReportKind.ANSWERED:
            assert member_now["call_state"] == MemberCallState.CONNECTED
            if not own:
                milestone("member answered")
            else:
                name = report.data["answered_by_name"]
                assert (now["call_state"], now["answered_by_name"]) == (CallState.CONNECTED, name)
                # The log says who answered, as a supervisor reading it expects, even when the
                # same agent answers again after a move to Passive (the name is then no change).
                message = message_of(recorded)
                assert message == f"Answered by {name} (via provider)", message
        elif report.kind in (ReportKind.COMPLETED, ReportKind.FAILED, ReportKind.LEFT):
            assert member_now["call_state"] == MemberCallState.NONE
            if own:
                milestone("session ended by the provider")
                assert now["ended"]
                missed = session["call_state"] == CallState.RINGING or session["was_missed"]
                assert now["was_missed"] == missed
        elif report.kind == ReportKind.HELD:
            assert member_now["call_state"] == MemberCallState.HOLD
            if own and session["call_state"] in (CallState.CONNECTED, CallState.PASSIVE):
                milestone("session held by the provider")
                assert now["call_state"] == CallState.HOLD and now["held_at"]
        elif report.kind == ReportKind.UNHELD:
            assert member_now["call_state"] == MemberCallState.CONNECTED
            if own and session["call_state"] == CallState.HOLD:
                assert now["call_state"] == CallState.CONNECTED
        else:
            assert member_now["muted"] == (report.kind == ReportKind.MUTED)

    def redelivers_a_report(self, data):
        report = data.draw(st.sampled_from(self.delivered), label="report")
        milestone("duplicate report")
        entry = services.provider_report_receive(report)
        assert self.snapshot() == self.state, "a duplicate report changed something"
        assert (entry.provider, entry.event_id) == (report.provider, report.event_id)

    def retries_the_inbox(self, data):
        """The periodic retry: only reports about calls still unknown may be pending, and those
        stay pending (the retry window is minutes): nothing to apply."""
        assert services.inbox_process() == 0
        before, after = self.state, self.snapshot()
        self.state = after
        for table in ("sessions", "members", "events"):
            assert after[table] == before[table], table
        assert [handling(e) for e in after["inbox"]] == [handling(e) for e in before["inbox"]]

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def every_session_is_consistent(self):
        # Every step ends by reading the example's rows from the database after its last write
        # (`self.state`): checked here as they are, not read a second time.
        state = self.state
        for session_id in self.session_ids:
            self.check_session(
                state["sessions"][session_id],
                members_of(state, session_id),
                [e for e in state["events"] if e["session_id"] == session_id],
            )
        # 9. The wire log is the events: the API's session records (`session_record_for` is
        # this, for one session). Made from the events alone: read again when they changed.
        if state["events"] != self.events_on_the_wire:
            visible = selectors.sessions_visible_to(self.user).filter(pk__in=self.session_ids)
            records = {record["id"]: record for record in selectors.session_records(visible)}
            assert set(records) == set(self.session_ids)
            for session_id, record in records.items():
                events = [e for e in state["events"] if e["session_id"] == session_id]
                assert [line["message"] for line in record["log"]] == list(map(message_of, events))
            self.events_on_the_wire = state["events"]
        # 10. No stored document that counts is stale, and readers get the fresh rendering.
        sessions = CallSession.objects.filter(pk__in=self.session_ids)
        fresh = {r["id"]: documents.render(r) for r in selectors.session_records(sessions)}
        counting = SessionDocument.objects.filter(
            pk__in=self.session_ids, rendered_revision=F("revision")
        )
        for session_id, json, etag in counting.values_list("pk", "json", "etag"):
            assert (json, etag) == fresh[session_id], f"stale document of {session_id}"
        newest_first = sessions.order_by("-date_created", "-id").values_list("pk", flat=True)
        assert documents.session_documents(sessions) == [fresh[pk][0] for pk in newest_first]
        # 5. Every action let go of its claim.
        assert not ActionInFlight.objects.filter(session_id__in=self.session_ids).exists()
        # 7. Each provider event is stored once, however often it came, and only reports about
        # calls no session has yet may wait.
        event_ids = [(e["provider"], e["event_id"]) for e in state["inbox"]]
        assert len(event_ids) == len(set(event_ids)) == len(self.delivered)
        known = set(call_sids_of(state))
        stuck = [
            e
            for e in state["inbox"]
            if e["status"] == InboxStatus.PENDING and e["call_sid"] in known
        ]
        assert not stuck, stuck

    @staticmethod
    def check_session(session: dict, members: list[dict], events: list[dict]):
        # 1. One fact, stated twice on the wire.
        assert session["ended"] == (session["call_state"] == CallState.DISCONNECTED)
        # 0. Every event is a new version of the session (its ETag): the first is version 1.
        assert session["version"] == len(events)
        # 2. An ended call holds, dials and rings nobody.
        if session["ended"]:
            assert session["hold_reason"] == HoldReason.NONE
            assert all(session[name] is None for name in HOLD_DETAILS)
            assert session["date_completed"] is not None
            assert session["dial_state"] == DialState.NONE
            assert not [m for m in members if m["call_state"] in ON_THE_CALL]
        # 3. Hold details describe a hold in place, never a past one.
        if session["call_state"] == CallState.HOLD:
            assert session["held_at"] is not None
        else:
            assert session["hold_reason"] == HoldReason.NONE
            assert all(session[name] is None for name in HOLD_DETAILS), session
        # 4. A call is one member.
        sids = [m["call_sid"] for m in members if m["call_sid"]]
        assert len(sids) == len(set(sids))
        # 5. The log is in order, and every line says something.
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs))
        messages = [message_of(e) for e in events]
        assert all(isinstance(m, str) and m.strip() for m in messages), messages
        # 8. Dialing while an invited member rings, and only then.
        ringing = any(
            m["call_state"] == MemberCallState.RINGING and not m["is_original_member"]
            for m in members
        )
        assert (session["dial_state"] == DialState.ACTIVE) == (not session["ended"] and ringing)


@pytest.mark.django_db(transaction=True)  # real commits: the inbox applies reports on commit
def test_random_actions_and_provider_reports_keep_sessions_consistent(settings):
    settings.SIMULATED_PROVIDER_LATENCY = 0  # the provider answers at once: no waiting
    reached.clear()
    with predictable_invite_sids() as dialer:
        run_state_machine_as_test(lambda: LiveCallMachine(dialer), settings=SETTINGS)
    missing = [name for name in MILESTONES_REQUIRED if not reached[name]]
    assert not missing, f"the machine no longer reaches {missing} (reached: {dict(reached)})"
