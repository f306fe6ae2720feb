"""A slow telephony provider (`SIMULATED_PROVIDER_LATENCY=1`: every provider call takes a
second) against the real server, as clients would meet it.

Across sessions, actions run side by side: 20 holds on 20 sessions are all at the provider at
once (20 `ActionInFlight` claims seen together, twice the server's pool of 10 connections:
none is held while the provider works), and a `GET /portal/active-sessions` sent meanwhile is
answered while they are all still there. On one session, 10 actions queue: each waits for the
one before, none is lost, and no two provider calls overlap.

Nothing here is timed against a budget (benchmarks do that: `make bench`); the assertions are
about what overlapped and what waited, which the claims and the event times show.
"""

import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.conf import global_settings
from django.db import connection

from sessions_app.models import (
    ActionInFlight,
    CallSession,
    CallState,
    EventKind,
    MemberCallState,
    SessionEvent,
)
from tests.conftest import served
from tests.factories import PASSWORD, AccountFactory, CallSessionFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

LATENCY = 1.0
POOL = 10


@pytest.fixture(scope="module")
def slow_server(django_db_setup, django_db_blocker):
    with served(
        log_name="slow-provider-server.log",
        SIMULATED_PROVIDER_LATENCY=str(LATENCY),
        SESSION_ACTION_WAIT_SECONDS="60",
        SIMULATED_ANSWER_DELAY="-1",  # invitees keep ringing: only our actions make events
        DATABASE_POOL_MAX=str(POOL),
    ) as url:
        yield url


@pytest.fixture
def client(slow_server, settings):
    """An API client of the slow server, signed in with an `ss-id` cookie (one password check
    in the server, with the server's own hashers)."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    account = AccountFactory()
    UserFactory(username="supervisor", accounts=[account])
    signed_in = httpx.post(
        f"{slow_server}/auth/credentials",
        json={"userName": "supervisor", "password": PASSWORD},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    cookies = {"ss-id": signed_in.json()["sessionId"]}
    with httpx.Client(base_url=slow_server, cookies=cookies, timeout=60) as http:
        http.account = account
        yield http


def in_parallel(calls) -> list:
    """Run each callable in its own thread, started together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index):
        barrier.wait(10)
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return threads, results


def test_actions_on_different_sessions_wait_on_the_provider_together(client):
    sessions = [CallSessionFactory(account=client.account) for _ in range(20)]
    connection.close()  # committed; the watcher below uses a fresh connection
    threads, results = in_parallel(
        [(lambda s=s: client.post(f"/sessions/{s.id}/hold")) for s in sessions]
    )

    # Watch the claims: all 20 must be at the provider at the same time.
    peak = 0
    while peak < len(sessions) and any(t.is_alive() for t in threads):
        peak = max(peak, ActionInFlight.objects.filter(session__in=sessions).count())
        time.sleep(0.01)
    assert peak == len(sessions), f"at most {peak} of 20 actions were at the provider at once"

    # Meanwhile the list answers, before the actions come back from the provider.
    listed = client.get("/portal/active-sessions")
    still_in_flight = ActionInFlight.objects.filter(session__in=sessions).count()
    assert listed.status_code == 200
    assert len(listed.json()["sessions"]) == len(sessions)
    assert still_in_flight > 0, "the list waited for the actions"

    for thread in threads:
        thread.join(60)
    assert [r.status_code for r in results] == [200] * len(sessions)
    held = CallSession.objects.filter(pk__in=[s.pk for s in sessions], call_state=CallState.HOLD)
    assert held.count() == len(sessions)
    assert SessionEvent.objects.filter(session__in=sessions, kind=EventKind.HELD).count() == 20


def test_actions_on_one_session_queue_and_none_is_lost(client):
    session = CallSessionFactory(account=client.account)
    connection.close()
    # Ten provider actions at once: nine invites (the first also starts the conference) and a
    # hold, which the call's state allows in any order.
    requests = [
        (
            lambda i=i: client.post(
                f"/sessions/{session.id}/conference/members",
                json={"destination": f"+1555000{i:04d}"},
            )
        )
        for i in range(9)
    ] + [lambda: client.post(f"/sessions/{session.id}/hold")]
    threads, results = in_parallel(requests)
    for thread in threads:
        thread.join(120)

    assert [r.status_code for r in results] == [200] * 10, [r.text for r in results]
    events = list(SessionEvent.objects.filter(session=session).order_by("seq"))
    assert sorted(e.kind for e in events) == [EventKind.HELD] + [EventKind.MEMBER_INVITED] * 9
    members = session.members.exclude(is_original_member=True)
    assert sorted(members.values_list("identity", flat=True)) == [
        f"+1555000{i:04d}" for i in range(9)
    ]
    assert set(members.values_list("call_state", flat=True)) == {MemberCallState.RINGING}
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD and session.conference_sid.startswith("CF")
    # Serialised: each action's provider call (a second at least) started after the one
    # before had been recorded, so consecutive events are at least that far apart.
    gaps = [later.date - earlier.date for earlier, later in zip(events, events[1:], strict=False)]
    assert min(gaps) >= timedelta(seconds=LATENCY)
    assert not ActionInFlight.objects.filter(session=session).exists()
