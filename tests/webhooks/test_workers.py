"""Workers as they run: several at once share the work without sending a delivery twice or
out of order, and a sleeping worker wakes as soon as a session event is committed. Committed
data (`transactional_db`): each worker thread has its own database connection."""

import json
import threading
import time
from collections import defaultdict

import pytest
from django.db import connection

from sessions_app import events, services
from sessions_app.models import SessionEvent, Via
from sessions_app.webhooks import delivery
from sessions_app.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.factories import AccountFactory, CallSessionFactory, UserFactory
from tests.webhooks.conftest import Answer, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

API = services.Actor(user=None, via=Via.API)


@pytest.fixture(scope="module", autouse=True)
def _stop_listener_after_module():
    """The LISTEN connection would keep the test database from being dropped."""
    yield
    events.stop_listener()


@pytest.fixture
def team():
    account = AccountFactory(name="Acme")
    return account, UserFactory(username="mona", role="Manager", accounts=[account])


def test_two_workers_send_each_delivery_once_and_in_order_per_session(team, receiver):
    account, manager = team
    webhook = subscribe(manager, receiver.url())
    sessions = [CallSessionFactory(account=account) for _ in range(3)]
    for _ in range(2):
        for session in sessions:
            services.session_hold(actor=API, session_id=session.id)
            services.session_resume(actor=API, session_id=session.id)
    expected = list(SessionEvent.objects.order_by("seq").values_list("seq", "session_id"))
    assert len(expected) == 12
    receiver.answer(*[Answer(200, delay=0.05)] * 12)  # slow enough for the two to overlap

    def work():
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                delivery.deliver_once()
                delivered = WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED)
                if delivered.count() == 12:
                    return
                time.sleep(0.01)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    ids = [int(r.headers["webhook-id"]) for r in receiver.requests]
    assert sorted(ids) == [seq for seq, _ in expected]  # each once, none missing
    by_session = defaultdict(list)
    for request in receiver.requests:
        data = json.loads(request.body)["data"]
        by_session[data["session"]["id"]].append(data["seq"])
    for session in sessions:
        sent = by_session[session.id]
        assert sent == sorted(sent) and len(sent) == 4
    deliveries = WebhookDelivery.objects.filter(subscription=webhook)
    assert set(deliveries.values_list("status", "attempts")) == {(DeliveryStatus.DELIVERED, 1)}
    assert WebhookAttempt.objects.count() == 12


def test_a_sleeping_worker_wakes_when_a_session_event_commits(team, receiver):
    account, manager = team
    session = CallSessionFactory(account=account)
    subscribe(manager, receiver.url())
    stop = threading.Event()

    def run():
        try:
            delivery.deliver_forever(stop, interval=60)  # it would poll only once a minute
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert events.ensure_listener(timeout=5)
        time.sleep(0.3)  # its first pass is done: it sleeps
        services.session_hold(actor=API, session_id=session.id)
        deadline = time.monotonic() + 5
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.requests) == 1
        assert json.loads(receiver.requests[0].body)["type"] == "session.held"
    finally:
        stop.set()
        events.dispatch(events.Notice("", "", "changed"))  # wakes it to see `stop`
        worker.join(timeout=10)
    assert not worker.is_alive()
