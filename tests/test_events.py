"""Session events: published after commit only, carried across connections (processes) by
PostgreSQL LISTEN/NOTIFY, and streamed to each page filtered by the accounts it may see."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from sessions_app import events, services
from sessions_app.errors import TelephonyFailed
from sessions_app.events import Notice
from sessions_app.models import SessionEvent, Via
from tests.factories import AccountFactory, CallSessionFactory, UserFactory

API = services.Actor(user=None, via=Via.API)


@pytest.fixture(scope="module", autouse=True)
def _stop_listener_after_module():
    """The LISTEN connection would keep the test database from being dropped."""
    yield
    events.stop_listener()


def test_events_are_published_only_when_the_transaction_commits(
    session, django_capture_on_commit_callbacks, settings
):
    settings.EVENTS_BACKEND = "local"
    heard = []
    unsubscribe = events.subscribe(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.session_hold(actor=API, session_id=session.id)
        assert heard == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        unsubscribe()
    [event] = SessionEvent.objects.filter(session=session)
    assert heard == [Notice(session.id, session.account_id, "changed", seq=event.seq)]


def test_an_action_that_changes_nothing_publishes_nothing(
    session, django_capture_on_commit_callbacks
):
    """Holding a held call is a success that changes nothing: no event, so no notice (pages
    would otherwise redraw for nothing)."""
    services.session_hold(actor=API, session_id=session.id)

    with django_capture_on_commit_callbacks() as callbacks:
        services.session_hold(actor=API, session_id=session.id)

    assert callbacks == []


def test_a_provider_failure_is_published_once(
    session, failing_provider, settings, django_capture_on_commit_callbacks
):
    """A failure is an event, so open pages hear of it (their log shows it)."""
    settings.EVENTS_BACKEND = "local"
    failing_provider("hold")
    heard = []
    unsubscribe = events.subscribe(heard.append)
    try:
        # The callbacks run as the block exits, the failure raised or not.
        with (
            pytest.raises(TelephonyFailed),
            django_capture_on_commit_callbacks(execute=True),
        ):
            services.session_hold(actor=API, session_id=session.id)
    finally:
        unsubscribe()
    [event] = SessionEvent.objects.filter(session=session)
    assert heard == [Notice(session.id, session.account_id, "changed", seq=event.seq)]


@pytest.mark.django_db(transaction=True)
def test_notify_from_another_connection_reaches_this_processes_subscribers(settings):
    """A change committed on one database connection (as by another server process) is
    heard through this process's single LISTEN connection."""
    settings.EVENTS_BACKEND = "postgres"
    assert events.ensure_listener(timeout=10)
    account = AccountFactory()
    session = CallSessionFactory(account=account)
    heard = threading.Event()
    received = []

    def on_event(event):
        if event.session_id == session.id:
            received.append(event)
            heard.set()

    unsubscribe = events.subscribe(on_event)
    try:
        services.session_hold(actor=API, session_id=session.id)
        assert heard.wait(5), "the NOTIFY never arrived"
    finally:
        unsubscribe()
    [event] = SessionEvent.objects.filter(session=session)
    assert received == [Notice(session.id, account.id, "changed", seq=event.seq)]


async def _read_stream(response, until: str, limit: int = 20) -> str:
    seen = ""
    iterator = response.streaming_content.__aiter__()
    for _ in range(limit):
        chunk = await asyncio.wait_for(iterator.__anext__(), timeout=5)
        seen += chunk.decode() if isinstance(chunk, bytes) else chunk
        if until in seen:
            break
    await iterator.aclose()
    return seen


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_event_stream_sends_only_the_users_accounts_changes(settings):
    settings.EVENTS_BACKEND = "local"
    mine, theirs = await sync_to_async(AccountFactory.create_batch)(2)
    user = await sync_to_async(UserFactory)(accounts=[mine])
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get("/live/events")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"

    async def publish_later():
        await asyncio.sleep(0.1)
        events.dispatch(Notice("theirs1", theirs.id, "changed"))
        events.dispatch(Notice("mine1", mine.id, "created"))

    task = asyncio.create_task(publish_later())
    text = await _read_stream(response, until="sessions-created")
    await task
    assert "event: s-mine1\ndata: created" in text
    assert "event: sessions-created\ndata: mine1" in text
    assert "theirs1" not in text


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_event_stream_refuses_anonymous_visitors():
    response = await AsyncClient().get("/live/events")
    assert response.status_code == 403


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_an_idle_event_stream_makes_no_database_queries(settings, monkeypatch):
    """No per-client polling: once open, a quiet stream only sends keep-alive comments."""
    from django.db.backends.utils import CursorWrapper

    settings.EVENTS_BACKEND = "local"
    settings.LIVE_KEEPALIVE_SECONDS = 0.05
    account = await sync_to_async(AccountFactory)()
    user = await sync_to_async(UserFactory)(accounts=[account])
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get("/live/events")
    executed = []
    original = CursorWrapper._execute

    def counting_execute(self, *args, **kwargs):
        executed.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CursorWrapper, "_execute", counting_execute)
    text = await _read_stream(response, until="keep-alive\n\n: keep-alive\n\n: keep-alive")
    assert text.count(": keep-alive") >= 3
    assert executed == []
