"""The Server Events stream for API clients (`/event-stream`, `sessions_app.serverevents`):
ServiceStack's protocol, scope, exact resume, reset, heartbeats, subscriptions across
processes, errors; and the official `ServerEventsClient` of @servicestack/client, in Node.

Against real servers (`start_server`: uvicorn, LISTEN/NOTIFY) on the test database; the data
they see is committed (`transactional_db`), and actions are made through the services (or the
API) of this process, so that their notices cross processes as in production."""

import asyncio
import functools
import http.client
import json
import queue
import shutil
import socket
import subprocess
import threading
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from django.conf import global_settings
from django.contrib.auth import base_user
from django.contrib.auth.hashers import make_password
from django.http import HttpResponse
from django.utils import timezone

from sessions_app import services
from sessions_app.api.authentication import start_api_session
from sessions_app.models import CallState, EventSubscription, Role, SessionEvent, Via
from sessions_app.serverevents import END, QUEUE_LIMIT, Stream
from tests.conftest import ROOT, basic_auth, served, start_server
from tests.factories import PASSWORD, AccountFactory, CallSessionFactory, UserFactory

WAIT = 10.0  # seconds to wait for something that should come at once


class EventReader:
    """An open `/event-stream` read on a thread: each server-sent event as a dict (`id`,
    `selector`, `channel`, `body`), in order, or None once the response has ended. A plain
    socket (`http.client`), so that `close()` really drops the connection, as a client that
    goes away does."""

    def __init__(self, url: str, *, headers: dict | None = None, params: dict | None = None):
        self.events: queue.Queue = queue.Queue()
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
        path = "/event-stream" + (f"?{urlencode(params)}" if params else "")
        self._connection.request("GET", path, headers=headers or {})
        self.response = self._connection.getresponse()
        self.status = self.response.status
        self._socket = self._connection.sock
        if self.status == 200:
            self._socket.settimeout(None)  # the reader waits as long as the stream is open
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event: dict = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n").rstrip("\r")
                if line == "":
                    if "data" in event:
                        self.events.put(_parse(event))
                    event = {}
                elif line.startswith(":"):
                    continue
                else:
                    name, _, value = line.partition(": ")
                    event[name] = value
        except Exception:  # the connection dropped, or close() pulled it away mid-read
            pass
        finally:
            self.events.put(None)

    def body(self) -> bytes:
        """The body of a refused stream."""
        return self.response.read()

    def next(self, timeout: float = WAIT) -> dict | None:
        """The next event (None: the stream ended); fails the test after `timeout`."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no server event within {timeout} s")

    def take(self, count: int) -> list[dict]:
        """The next `count` events."""
        return [self.next() for _ in range(count)]

    def session_events_until(self, seq: int) -> list[dict]:
        """The `cmd.SessionEvent`s up to the one with id `seq` (heartbeats skipped)."""
        received = []
        while not received or received[-1]["id"] != seq:
            event = self.next()
            assert event is not None, f"the stream ended before event {seq}: {received}"
            if event["selector"] == "cmd.SessionEvent":
                received.append(event)
                assert event["id"] <= seq, f"passed {seq} without it: {received}"
        return received

    def close(self) -> None:
        """Drop the connection (the client goes away)."""
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._connection.close()


def _parse(event: dict) -> dict:
    target, _, body = event["data"].partition(" ")
    channel, _, selector = target.rpartition("@")
    return {
        "id": int(event["id"]) if "id" in event else None,
        "selector": selector,
        "channel": channel or None,
        "body": json.loads(body) if body else None,
    }


def auth(user) -> dict:
    """An `ss-id` cookie of `user`, as `POST /auth/credentials` sets it (minted here: the
    server's own password hashing costs a third of a second per Basic request)."""
    return {"Cookie": f"ss-id={start_api_session(HttpResponse(), user, remember_me=False)}"}


def basic(user) -> dict:
    """The Basic header of a user of `world` (whose passwords the server's hashers accept)."""
    return {"Authorization": basic_auth(user.username, PASSWORD)}


@functools.cache
def _server_password_hash(raw_password: str) -> str:
    return make_password(raw_password)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """One server for the module (each test seeds its own rows)."""
    with served(log_name="server-events.log") as url:
        yield url


@pytest.fixture
def world(transactional_db, settings, monkeypatch):
    """Two accounts with a connected call each, a user of each, an administrator; their
    passwords hashed as the server's hashers accept (one hash, shared)."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    monkeypatch.setattr(base_user, "make_password", _server_password_hash)
    acme, globex = AccountFactory(name="Acme"), AccountFactory(name="Globex")
    return {
        "acme": acme,
        "globex": globex,
        "acme_call": CallSessionFactory(account=acme),
        "globex_call": CallSessionFactory(account=globex),
        "alice": UserFactory(username="alice", accounts=[acme]),
        "bob": UserFactory(username="bob", accounts=[globex]),
        "admin": UserFactory(username="root", role=Role.SYSTEM_ADMINISTRATOR),
    }


def act(session, note: str) -> int:
    """One action on `session` (its console data), committed; returns the event's seq."""
    services.session_patch(
        actor=services.Actor(user=None, via=Via.API), session_id=session.id, console_data=note
    )
    return SessionEvent.objects.filter(session=session).latest("seq").seq


def connect(url: str, user, **params) -> tuple[EventReader, dict]:
    """An open stream of `user` and its `cmd.onConnect` event."""
    reader = EventReader(url, headers=auth(user), params=params or None)
    assert reader.status == 200, reader.body()
    first = reader.next()
    assert first["selector"] == "cmd.onConnect"
    return reader, first


# --- the protocol --------------------------------------------------------------------------------


def test_connect_message_carries_servicestack_fields_and_the_current_position(server, world):
    last = act(world["acme_call"], "before")
    reader, connect_event = connect(server, world["alice"], channels="*")
    try:
        body = connect_event["body"]
        subscription = EventSubscription.objects.get()
        assert body["id"] == subscription.id
        assert body["heartbeatUrl"] == f"{server}/event-heartbeat?id={subscription.id}"
        assert body["unRegisterUrl"] == f"{server}/event-unregister?id={subscription.id}"
        assert body["updateSubscriberUrl"] == f"{server}/event-subscribers/{subscription.id}"
        assert body["heartbeatIntervalMs"] == "10000" and body["idleTimeoutMs"] == "30000"
        assert body["userId"] == world["alice"].id and body["displayName"] == "alice"
        assert body["channels"] == "*" and body["isAuthenticated"] == "true"
        # A fresh client stands at the newest event: reconnecting from there loses nothing.
        assert connect_event["id"] == last
        assert subscription.user == world["alice"]
        assert subscription.account_ids == [world["acme"].id]
    finally:
        reader.close()


def test_an_api_action_arrives_as_one_message_with_the_event_and_the_session(server, world):
    reader, _ = connect(server, world["alice"])
    call = world["acme_call"]
    try:
        response = httpx.post(
            f"{server}/sessions/{call.id}/hold", headers=basic(world["alice"]), timeout=WAIT
        )
        assert response.status_code == 200
        event = SessionEvent.objects.get(session=call)
        [message] = reader.session_events_until(event.seq)
    finally:
        reader.close()
    assert message["id"] == event.seq
    assert message["channel"] == world["acme"].id
    body = message["body"]
    assert body["seq"] == event.seq and body["kind"] == "held" == event.kind
    assert body["sessionId"] == call.id and body["accountId"] == world["acme"].id
    assert body["actor"] == "alice" and body["actorId"] == world["alice"].id
    assert body["via"] == "api"
    assert body["data"]["changes"]["call_state"] == ["Connected", "Hold"]
    assert body["message"] == event.message
    assert body["date"].startswith(event.date.strftime("%Y-%m-%dT%H:%M:%S"))
    # The resulting SessionInfo, as GET /sessions/{id} answers it.
    session = httpx.get(
        f"{server}/sessions/{call.id}", headers=auth(world["alice"]), timeout=WAIT
    ).json()
    assert body["session"] == session and session["callState"] == "Hold"


# --- scope ---------------------------------------------------------------------------------------


def test_a_user_of_another_account_receives_none_and_an_administrator_all(server, world):
    bob, _ = connect(server, world["bob"])
    admin, _ = connect(server, world["admin"])
    try:
        acme_seqs = [act(world["acme_call"], f"a{i}") for i in range(3)]
        globex_seq = act(world["globex_call"], "g")
        # Bob's first event is his own account's, which came after all of Acme's.
        assert [e["id"] for e in bob.session_events_until(globex_seq)] == [globex_seq]
        assert [e["id"] for e in admin.session_events_until(globex_seq)] == [
            *acme_seqs,
            globex_seq,
        ]
    finally:
        bob.close()
        admin.close()


def test_channels_narrow_an_administrators_stream_to_the_accounts_named(server, world):
    reader, connect_event = connect(server, world["admin"], channels=world["globex"].id)
    try:
        act(world["acme_call"], "not for this stream")
        globex_seq = act(world["globex_call"], "for this stream")
        [event] = reader.session_events_until(globex_seq)
        assert event["channel"] == world["globex"].id
        assert connect_event["body"]["channels"] == world["globex"].id
        assert EventSubscription.objects.get().account_ids == [world["globex"].id]
    finally:
        reader.close()


def test_a_channel_the_user_may_not_see_is_refused_with_403(server, world):
    for channels in (world["globex"].id, f"{world['acme'].id},{world['globex'].id}", "nope"):
        response = httpx.get(
            f"{server}/event-stream",
            params={"channels": channels},
            headers=auth(world["alice"]),
            timeout=WAIT,
        )
        assert response.status_code == 403
        status = response.json()["responseStatus"]
        assert status["errorCode"] == "Forbidden"
        assert "is not an account you may see" in status["message"]
    unknown = httpx.get(
        f"{server}/event-stream",
        params={"channels": "no-such-account"},
        headers=auth(world["admin"]),  # an administrator sees every account that exists
        timeout=WAIT,
    )
    assert unknown.status_code == 403
    assert not EventSubscription.objects.exists()


# --- exact resume --------------------------------------------------------------------------------


def test_resume_sends_every_missed_event_of_the_users_once_in_order_then_live(server, world):
    """`?lastEventId=` (a new EventSource cannot set the header; ServiceStack's client adds it
    through `resolveStreamUrl`)."""
    call, other = world["acme_call"], world["globex_call"]
    reader, _ = connect(server, world["alice"])
    first = act(call, "seen")
    reader.session_events_until(first)
    reader.close()
    missed = []
    for i in range(7):
        missed.append(act(call, f"missed {i}"))
        act(other, f"not alice's {i}")  # interleaved events of another account
    reader = EventReader(server, headers=auth(world["alice"]), params={"lastEventId": first})
    try:
        assert reader.next()["id"] == first  # onConnect stands where the client stands
        live = act(call, "live")
        received = reader.session_events_until(live)
    finally:
        reader.close()
    assert [e["id"] for e in received] == [*missed, live]
    notes = [e["body"]["data"]["changes"]["console_data"][1] for e in received]
    assert notes == [*(f"missed {i}" for i in range(7)), "live"]


def test_resume_with_the_header_during_a_burst_loses_nothing_and_repeats_nothing(server, world):
    """Events keep coming while the client replays: the replay and the live ones meet with
    none lost and none twice."""
    call = world["acme_call"]
    start = act(call, "start")
    writer_done = threading.Event()
    written: list[int] = []

    def write():
        from django.db import connection

        try:
            for i in range(40):
                written.append(act(call, f"burst {i}"))
        finally:
            connection.close()
            writer_done.set()

    threading.Thread(target=write).start()
    reader = EventReader(server, headers={**auth(world["alice"]), "Last-Event-ID": str(start)})
    try:
        assert reader.next()["selector"] == "cmd.onConnect"
        assert writer_done.wait(60)
        received = reader.session_events_until(written[-1])
    finally:
        reader.close()
    assert [e["id"] for e in received] == written


def test_a_client_further_behind_than_the_retention_gets_a_reset_and_a_snapshot(server, world):
    old = act(world["acme_call"], "old")
    missed = act(world["acme_call"], "missed long ago")
    SessionEvent.objects.filter(seq=missed).update(date=timezone.now() - timedelta(hours=25))
    ended = CallSessionFactory(account=world["acme"], call_state=CallState.DISCONNECTED)
    reader = EventReader(server, headers={**auth(world["alice"]), "Last-Event-ID": str(old)})
    try:
        connect_event, reset, snapshot = reader.take(3)
        assert connect_event["selector"] == "cmd.onConnect" and connect_event["id"] is None
        assert reset["selector"] == "cmd.onReset"
        assert "more than 24 h behind" in reset["body"]["reason"]
        assert snapshot["selector"] == "cmd.ActiveSessions"
        assert snapshot["id"] == reset["body"]["position"] == missed
        ids = [s["id"] for s in snapshot["body"]["sessions"]]
        assert ids == [world["acme_call"].id]  # active ones of Alice's only: not the ended
        assert ended.id not in ids
        live = act(world["acme_call"], "after the reset")
        assert [e["id"] for e in reader.session_events_until(live)] == [live]
    finally:
        reader.close()


@pytest.mark.parametrize("last_id", ["abc", "-1", "999999999999"])
def test_an_id_that_is_not_ours_gets_a_reset(server, world, last_id):
    act(world["acme_call"], "something")
    reader = EventReader(server, headers=auth(world["alice"]), params={"lastEventId": last_id})
    try:
        _, reset, snapshot = reader.take(3)
        assert reset["selector"] == "cmd.onReset" and snapshot["selector"] == "cmd.ActiveSessions"
    finally:
        reader.close()


def test_the_header_wins_over_the_query_parameter(server, world):
    """EventSource's own reconnect sends Last-Event-ID with the URL it had: the header is the
    newer position."""
    first = act(world["acme_call"], "one")
    second = act(world["acme_call"], "two")
    reader = EventReader(
        server,
        headers={**auth(world["alice"]), "Last-Event-ID": str(first)},
        params={"lastEventId": "0"},
    )
    try:
        assert reader.next()["id"] == first
        assert [e["id"] for e in reader.session_events_until(second)] == [second]
    finally:
        reader.close()


# --- heartbeats, unregister, subscribers ---------------------------------------------------------


def test_a_heartbeat_is_answered_on_the_stream_and_unregister_ends_it(server, world):
    reader, connect_event = connect(server, world["alice"])
    body = connect_event["body"]
    try:
        before = EventSubscription.objects.get().last_pulse_at
        response = httpx.post(body["heartbeatUrl"], timeout=WAIT)  # no credentials, as Node's
        assert response.status_code == 200
        assert reader.next()["selector"] == "cmd.onHeartbeat"
        assert EventSubscription.objects.get().last_pulse_at > before
        assert httpx.post(body["unRegisterUrl"], timeout=WAIT).status_code == 200
        assert reader.next() is None  # the response ended
        assert not EventSubscription.objects.exists()
        again = httpx.post(body["heartbeatUrl"], timeout=WAIT)
        assert again.status_code == 404  # the client then reconnects
        assert again.json()["responseStatus"]["errorCode"] == "NotFound"
    finally:
        reader.close()


def test_heartbeat_without_an_id_is_a_400(server, world):
    response = httpx.post(f"{server}/event-heartbeat", timeout=WAIT)
    assert response.status_code == 400
    assert response.json()["responseStatus"]["errors"][0]["fieldName"] == "Id"


def test_a_closed_connection_removes_its_subscription(server, world):
    reader, _ = connect(server, world["alice"])
    assert EventSubscription.objects.count() == 1
    reader.close()
    deadline = timezone.now() + timedelta(seconds=WAIT)
    while EventSubscription.objects.exists() and timezone.now() < deadline:
        pass
    assert not EventSubscription.objects.exists()


def test_subscribers_lists_the_subscriptions_of_the_users_accounts(server, world):
    alice, _ = connect(server, world["alice"], channels=world["acme"].id)
    bob, _ = connect(server, world["bob"])
    try:
        response = httpx.get(
            f"{server}/event-subscribers",
            params={"channel": world["acme"].id},
            headers=auth(world["alice"]),
            timeout=WAIT,
        )
        assert response.status_code == 200
        [entry] = response.json()
        assert entry["userId"] == world["alice"].id
        assert entry["channels"] == world["acme"].id and entry["displayName"] == "alice"
        assert "id" not in entry  # the subscription id is its owner's capability
        everyone = httpx.get(
            f"{server}/api/GetEventSubscribers", headers=auth(world["admin"]), timeout=WAIT
        ).json()
        assert sorted(e["userId"] for e in everyone) == sorted([world["alice"].id, world["bob"].id])
        refused = httpx.get(
            f"{server}/event-subscribers",
            params={"channel": world["globex"].id},
            headers=auth(world["alice"]),
            timeout=WAIT,
        )
        assert refused.status_code == 403
    finally:
        alice.close()
        bob.close()


def test_changing_channels_of_an_open_stream_is_refused_clearly(server, world):
    reader, connect_event = connect(server, world["alice"])
    try:
        response = httpx.post(
            connect_event["body"]["updateSubscriberUrl"], headers=auth(world["alice"]), timeout=WAIT
        )
        assert response.status_code == 400
        assert "reconnect with the new channels" in response.json()["responseStatus"]["message"]
    finally:
        reader.close()


def test_a_stream_too_slow_to_read_is_ended_rather_than_fed_without_bound():
    """A client that stops reading is disconnected once QUEUE_LIMIT frames wait for it: it
    reconnects with its last id and replays from the database, so nothing is lost."""
    loop = asyncio.new_event_loop()
    try:
        stream = Stream(
            id="slow", account_ids=None, loop=loop, queue=asyncio.Queue(), heartbeat_body={}
        )
        stream._put([b"frame"] * (QUEUE_LIMIT + 5))
        stream._put([b"later"])
        waiting = [stream.queue.get_nowait() for _ in range(stream.queue.qsize())]
    finally:
        loop.close()
    assert waiting == [b"frame"] * QUEUE_LIMIT + [END]
    assert stream.ended


# --- authentication and methods ------------------------------------------------------------------


def test_without_credentials_the_stream_is_a_401_with_www_authenticate(server, world):
    response = httpx.get(f"{server}/event-stream", timeout=WAIT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="evovoice"'
    assert response.json()["responseStatus"]["errorCode"] == "Unauthorized"
    wrong = httpx.get(
        f"{server}/event-stream",
        headers={"Authorization": basic_auth("alice", "wrong")},
        timeout=WAIT,
    )
    assert wrong.status_code == 401
    assert not EventSubscription.objects.exists()


def test_basic_authenticates_the_stream_and_a_user_without_a_role_is_refused_with_403(
    server, world
):
    reader = EventReader(server, headers=basic(world["bob"]))
    try:
        assert reader.status == 200
        assert reader.next()["body"]["userId"] == world["bob"].id
    finally:
        reader.close()
    nobody = UserFactory(username="nobody", role=Role.NONE, accounts=[world["acme"]])
    response = httpx.get(f"{server}/event-stream", headers=basic(nobody), timeout=WAIT)
    assert response.status_code == 403
    assert response.json()["responseStatus"]["message"] == "Invalid Role"


def test_the_ss_id_cookie_authenticates_the_stream(server, world):
    with httpx.Client(base_url=server, timeout=WAIT) as client:
        signed_in = client.post(
            "/auth/credentials", json={"userName": "alice", "password": PASSWORD}
        )
        assert signed_in.status_code == 200
        cookie = client.cookies["ss-id"]
    reader = EventReader(server, headers={"Cookie": f"ss-id={cookie}"})
    try:
        assert reader.status == 200
        assert reader.next()["body"]["userId"] == world["alice"].id
    finally:
        reader.close()


def test_head_options_and_other_methods(server, world):
    head = httpx.head(f"{server}/event-stream", headers=auth(world["alice"]), timeout=WAIT)
    assert head.status_code == 200 and head.headers["content-type"] == "text/event-stream"
    assert not EventSubscription.objects.exists()  # a HEAD opens nothing
    assert httpx.head(f"{server}/event-stream", timeout=WAIT).status_code == 401
    options = httpx.options(f"{server}/event-stream", timeout=WAIT)
    assert options.status_code == 204 and options.headers["Allow"] == "GET, HEAD, OPTIONS"
    post = httpx.post(f"{server}/event-stream", headers=auth(world["alice"]), timeout=WAIT)
    assert post.status_code == 405
    assert post.json()["responseStatus"]["errorCode"] == "MethodNotAllowed"


# --- subscriptions across processes, idle drop, shutdown -----------------------------------------


def test_heartbeat_unregister_and_events_cross_server_processes(server, world, transactional_db):
    """Two server processes on one database: the stream on one, its heartbeat, an action and
    its unregister on the other (as with WEB_CONCURRENCY=2, where a request lands anywhere)."""
    with served(log_name="server-events-2.log") as other:
        reader, connect_event = connect(server, world["alice"])
        try:
            subscription_id = connect_event["body"]["id"]
            beat = httpx.post(f"{other}/event-heartbeat?id={subscription_id}", timeout=WAIT)
            assert beat.status_code == 200
            assert reader.next()["selector"] == "cmd.onHeartbeat"
            hold = httpx.post(
                f"{other}/sessions/{world['acme_call'].id}/hold",
                headers=auth(world["alice"]),
                timeout=WAIT,
            )
            assert hold.status_code == 200
            seq = SessionEvent.objects.filter(session=world["acme_call"]).latest("seq").seq
            assert [e["id"] for e in reader.session_events_until(seq)] == [seq]
            gone = httpx.post(f"{other}/event-unregister?id={subscription_id}", timeout=WAIT)
            assert gone.status_code == 200
            assert reader.next() is None
        finally:
            reader.close()


def test_an_idle_subscription_is_dropped_and_its_stream_ended(transactional_db):
    account = AccountFactory()
    user = UserFactory(accounts=[account])
    with served(
        log_name="server-events-idle.log",
        EVENT_STREAM_IDLE_TIMEOUT_SECONDS="2",
        EVENT_STREAM_HEARTBEAT_SECONDS="1",
    ) as url:
        kept, kept_connect = connect(url, user)
        idle, idle_connect = connect(url, user)
        try:
            assert idle_connect["body"]["idleTimeoutMs"] == "2000"
            deadline = timezone.now() + timedelta(seconds=WAIT)
            ended = False
            while timezone.now() < deadline and not ended:
                # One client heartbeats, the other does not.
                httpx.post(kept_connect["body"]["heartbeatUrl"], timeout=WAIT)
                try:
                    ended = idle.events.get(timeout=0.5) is None
                except queue.Empty:
                    pass
            assert ended, "the idle stream was not ended"
            ids = set(EventSubscription.objects.values_list("id", flat=True))
            assert ids == {kept_connect["body"]["id"]}
        finally:
            kept.close()
            idle.close()


def test_open_streams_end_when_the_server_stops(transactional_db):
    user = UserFactory(accounts=[AccountFactory()])
    process, url = start_server(log_name="server-events-stop.log")
    try:
        reader, _ = connect(url, user)
        process.terminate()
        assert reader.next() is None  # the response ended rather than hanging
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = (ROOT / "test-artifacts" / "server-events-stop.log").read_text()
    assert "Traceback" not in log and "ERROR" not in log


# --- the official client -------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is needed for this test")
def test_the_official_servicestack_client_subscribes_resumes_and_is_scoped(server, world):
    """tests/node/server_events_client.mjs: @servicestack/client's ServerEventsClient, as
    installed by `npm ci --prefix tests/node`."""
    node_dir = ROOT / "tests" / "node"
    assert (node_dir / "node_modules" / "@servicestack" / "client").is_dir(), (
        "run `npm ci --prefix tests/node` (make test does)"
    )
    config = {
        "baseUrl": server,
        "alice": {"username": "alice", "password": PASSWORD},
        "bob": {"username": "bob", "password": PASSWORD},
        "sessionId": world["acme_call"].id,
        "otherSessionId": world["globex_call"].id,
        "accountId": world["acme"].id,
    }
    run = subprocess.run(
        ["node", "server_events_client.mjs", json.dumps(config)],
        cwd=node_dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    acme_events = list(SessionEvent.objects.filter(session=world["acme_call"]).order_by("seq"))
    [bob_event] = SessionEvent.objects.filter(session=world["globex_call"])
    held, resumed, noted, held_again = acme_events
    assert (held.kind, resumed.kind, noted.kind, held_again.kind) == (
        "held",
        "resumed",
        "console_data_changed",
        "held",
    )
    assert result["connect"]["channels"] == world["acme"].id
    assert result["connect"]["heartbeatIntervalMs"] == 10000  # parsed by the client
    assert [e["seq"] for e in result["first"]] == [held.seq]
    assert result["first"][0]["callState"] == "Hold" and result["first"][0]["actor"] == "alice"
    assert result["lastEventId"] == held.seq
    # After the reconnect: exactly the two it missed, then the live one.
    assert [e["seq"] for e in result["resumed"]] == [resumed.seq, noted.seq, held_again.seq]
    assert [e["eventId"] for e in result["resumed"]] == [resumed.seq, noted.seq, held_again.seq]
    assert [e["seq"] for e in result["bob"]] == [bob_event.seq]  # none of Alice's
    assert result["subscribers"] == [{"userId": world["alice"].id, "channels": [world["acme"].id]}]
    assert not EventSubscription.objects.exists()  # both clients unregistered on stop()


def test_the_admin_shows_a_subscription_and_deleting_it_is_how_to_end_a_stream(client, db):
    from sessions_app.services.subscriptions import subscription_open

    staff = UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    row = subscription_open(user=staff, channels="*", account_ids=None)
    client.force_login(staff)
    page = client.get(f"/admin/sessions_app/eventsubscription/{row.pk}/change/")
    assert page.status_code == 200
    deleted = client.post(
        f"/admin/sessions_app/eventsubscription/{row.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not EventSubscription.objects.exists()
