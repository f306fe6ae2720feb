"""Many actions on ONE session at once, each thread on its own database connection, as several
agents and server processes would. The services lock the session row, so actions queue instead
of racing: every success has its log entry, nothing is lost, and the final state agrees with the
log. A race (a missing or ineffective lock) shows up as two holds or two resumes logged in a row,
a second conference, a second end, or a final state that contradicts the last log entry."""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction

from sessions_app import services
from sessions_app.errors import ActionInProgress, DomainError, InvalidState
from sessions_app.models import (
    ActionInFlight,
    CallSession,
    CallState,
    EventKind,
    HoldReason,
    MemberCallState,
    SessionEvent,
    SessionMember,
    Via,
)
from sessions_app.services import get_provider
from tests.conftest import api_client_as
from tests.factories import AccountFactory, CallSessionFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 4
ROUNDS = 6


def run_in_threads(work, count: int) -> list:
    """Run `work(index)` in `count` threads started together; return their results in order.
    Each thread closes its own database connection; an exception in a thread fails the test."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def target(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except BaseException as error:  # re-raised below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def agents():
    """An account with one connected call and `THREADS` agents who may act on it."""
    account = AccountFactory()
    users = [UserFactory(username=f"agent{i}", accounts=[account]) for i in range(THREADS)]
    return CallSessionFactory(account=account), users


def hold_resume_log(session) -> list[SessionEvent]:
    entries = SessionEvent.objects.filter(session=session).order_by("seq")
    return [e for e in entries if "put on hold" in e.message or e.message.startswith("Resumed")]


def assert_consistent(session, log: list[SessionEvent]) -> None:
    """Holds and resumes alternate in the log, and the session ends as the last one left it."""
    kinds = ["hold" if "put on hold" in e.message else "resume" for e in log]
    assert kinds == ["hold", "resume"] * (len(kinds) // 2) + ["hold"] * (len(kinds) % 2)
    session.refresh_from_db()
    members = list(SessionMember.objects.filter(session=session))
    if kinds and kinds[-1] == "hold":
        assert session.call_state == CallState.HOLD
        assert session.held_by_user_id == log[-1].actor_id
        assert session.hold_queue_name and session.held_at
        assert {m.call_state for m in members} == {MemberCallState.HOLD}
    else:
        assert session.call_state == CallState.CONNECTED
        assert session.held_by_user_id is session.hold_queue_name is session.held_at is None
        assert session.hold_reason == HoldReason.NONE
        assert {m.call_state for m in members} == {MemberCallState.CONNECTED}


def test_concurrent_hold_patch_resume_through_the_services(agents):
    session, users = agents

    def work(index):
        actor = services.Actor(user=users[index], via=Via.API)
        done = Counter()
        for round_ in range(ROUNDS):
            services.session_hold(actor=actor, session_id=session.id)
            done["hold"] += 1
            services.session_patch(
                actor=actor, session_id=session.id, console_data=f"{actor.name}:{round_}"
            )
            done["patch"] += 1
            try:
                services.session_resume(actor=actor, session_id=session.id)
                done["resume"] += 1
            except InvalidState:  # another agent resumed it first: refused, nothing written
                done["refused resume"] += 1
        return done

    results = run_in_threads(work, THREADS)

    log = list(SessionEvent.objects.filter(session=session).order_by("seq"))
    assert {(e.via, e.actor_id in {u.id for u in users}) for e in log} == {("api", True)}
    # Every console-data write is logged, once, under its writer.
    for user, done in zip(users, results, strict=True):
        assert done["patch"] == ROUNDS
        assert [e.message for e in log if e.actor_id == user.id and "Console" in e.message] == [
            f"Console data updated by {user.username} via API"
        ] * ROUNDS
    # The stored console data is what the last logged writer wrote last.
    last_writer = [e for e in log if "Console" in e.message][-1].actor.username
    session.refresh_from_db()
    assert session.console_data == f"{last_writer}:{ROUNDS - 1}"
    # Every successful resume is logged; holds and resumes alternate; the state agrees.
    hold_resume = hold_resume_log(session)
    assert sum(e.message.startswith("Resumed") for e in hold_resume) == sum(
        done["resume"] for done in results
    )
    assert_consistent(session, hold_resume)
    assert session.last_modified_by == log[-1].actor.username


def test_concurrent_hold_patch_resume_through_the_api(agents):
    session, users = agents

    def work(index):
        client = api_client_as(users[index])
        statuses = Counter()
        for round_ in range(ROUNDS):
            response = client.post(f"/sessions/{session.id}/hold")
            statuses["hold", response.status_code] += 1
            response = client.patch(
                f"/sessions/{session.id}", {"consoleData": f"{index}:{round_}"}, format="json"
            )
            statuses["patch", response.status_code] += 1
            response = client.patch(
                f"/sessions/{session.id}", {"callState": "Connected"}, format="json"
            )
            statuses["resume", response.status_code] += 1
        return statuses

    results = run_in_threads(work, THREADS)

    total = sum(results, Counter())
    assert set(total) <= {("hold", 200), ("patch", 200), ("resume", 200), ("resume", 409)}
    assert total["hold", 200] == total["patch", 200] == THREADS * ROUNDS
    log = list(SessionEvent.objects.filter(session=session).order_by("seq"))
    assert sum("Console data updated" in e.message for e in log) == THREADS * ROUNDS
    hold_resume = hold_resume_log(session)
    # A 200 resume either resumed (logged) or found the call already Connected (a no-op).
    resumes_logged = sum(e.message.startswith("Resumed") for e in hold_resume)
    assert 1 <= resumes_logged <= total["resume", 200]
    assert_consistent(session, hold_resume)


@pytest.fixture
def hold_at_the_provider(monkeypatch):
    """The provider's hold, held up: (`arrived`, set when a hold reaches the provider, and
    `finish`, to set to let it return)."""
    provider = get_provider()
    hold = provider.hold
    arrived, finish = threading.Event(), threading.Event()

    def slow_hold(**kwargs):
        arrived.set()
        assert finish.wait(10)
        return hold(**kwargs)

    monkeypatch.setattr(provider, "hold", slow_hold)
    return arrived, finish


def test_an_action_waits_for_a_provider_call_in_flight_then_sees_its_result(
    agents, hold_at_the_provider
):
    """B's resume, started while A's hold is still at the provider, waits for it (no row lock
    is held meanwhile), then resumes A's hold."""
    session, (alice, bob, *_) = agents
    a_at_provider, a_may_finish = hold_at_the_provider
    b_done = threading.Event()

    def work(index):
        if index == 0:
            services.session_hold(actor=services.Actor(alice, Via.API), session_id=session.id)
            return "held"
        assert a_at_provider.wait(10)
        services.session_resume(actor=services.Actor(bob, Via.API), session_id=session.id)
        b_done.set()
        return "resumed"

    def release_a():
        assert a_at_provider.wait(10)
        # The row is not locked while A waits on the provider: another connection locks it at
        # once (B's polling holds it for a moment at most; A would hold it until released).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            CallSession.objects.select_for_update().get(pk=session.pk)
        # B must still be waiting for A's provider call; without the claim it would have
        # failed at once (409: the call is not on hold yet).
        assert not b_done.wait(0.5)
        connection.close()
        a_may_finish.set()

    releaser = threading.Thread(target=release_a)
    releaser.start()
    assert run_in_threads(work, 2) == ["held", "resumed"]
    releaser.join()

    assert [e.message for e in hold_resume_log(session)] == [
        "Ada Lovelace put on hold by agent0 via API",
        "Resumed from hold by agent1 via API",
    ]
    assert_consistent(session, hold_resume_log(session))


def test_an_action_that_waits_too_long_is_told_what_is_in_progress(
    agents, hold_at_the_provider, settings
):
    session, (alice, bob, *_) = agents
    settings.SESSION_ACTION_WAIT_SECONDS = 0.3
    a_at_provider, a_may_finish = hold_at_the_provider

    def work(index):
        if index == 0:
            services.session_hold(actor=services.Actor(alice, Via.API), session_id=session.id)
            return "held"
        assert a_at_provider.wait(10)
        try:
            services.session_end(actor=services.Actor(bob, Via.API), session_id=session.id)
        except ActionInProgress as error:
            return str(error)
        finally:
            a_may_finish.set()
        return "ended"

    held, refused = run_in_threads(work, 2)

    assert held == "held"
    assert refused.startswith(
        "Another action is in progress on this session: hold, started by agent0 via API at "
    )
    session.refresh_from_db()
    assert (session.call_state, session.ended) == (CallState.HOLD, False)
    assert not ActionInFlight.objects.filter(session=session).exists()


def test_concurrent_invites_share_one_conference(agents, monkeypatch):
    session, users = agents
    provider = get_provider()
    started = []
    start_conference = provider.start_conference

    def counting_start_conference(**kwargs):
        started.append(kwargs["call_sid"])
        return start_conference(**kwargs)

    monkeypatch.setattr(provider, "start_conference", counting_start_conference)

    def work(index):
        actor = services.Actor(user=users[index], via=Via.API)
        services.conference_member_add(
            actor=actor, session_id=session.id, destination=f"+1555000000{index}"
        )

    run_in_threads(work, THREADS)

    session.refresh_from_db()
    members = list(SessionMember.objects.filter(session=session).order_by("id"))
    assert len(members) == 1 + THREADS
    assert {m.identity for m in members[1:]} == {f"+1555000000{i}" for i in range(THREADS)}
    invites = SessionEvent.objects.filter(session=session, kind=EventKind.MEMBER_INVITED)
    assert invites.count() == THREADS
    # One conference: each invite after the first found the conference the first one started.
    assert started == [session.call_sid]
    assert session.conference_sid.startswith("CF")
    assert session.most_recent_participant_call_sid == members[-1].call_sid


def test_concurrent_ends_end_the_session_once(agents):
    session, users = agents

    def work(index):
        try:
            services.session_end(
                actor=services.Actor(user=users[index], via=Via.API), session_id=session.id
            )
            return "ended"
        except DomainError as error:
            return type(error).__name__

    results = run_in_threads(work, THREADS)

    assert sorted(results) == ["SessionEnded"] * (THREADS - 1) + ["ended"]
    assert SessionEvent.objects.filter(session=session).count() == 1
    ended = CallSession.objects.get(pk=session.pk)
    assert (ended.ended, ended.call_state) == (True, CallState.DISCONNECTED)
