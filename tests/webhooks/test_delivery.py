"""The delivery worker against a real receiver on loopback: every request signed and verified
with the `standardwebhooks` package, retries on the schedule, 410 disables, Retry-After and
timeouts recorded, order kept per session, and the database holding every attempt."""

import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks import Webhook

from sessions_app import events, services
from sessions_app.models import SessionEvent, Via
from sessions_app.webhooks import delivery
from sessions_app.webhooks import services as webhook_services
from sessions_app.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from tests.factories import AccountFactory, CallSessionFactory
from tests.webhooks.conftest import Answer, subscribe

API = services.Actor(user=None, via=Via.API)


def drain(limit_seconds: float = 5.0) -> None:
    """Run passes until nothing is pending that could be sent (the retry pauses waited out)."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        delivery.deliver_once()
        due_in = webhook_services.next_due_in()
        if due_in is None:
            return
        time.sleep(min(due_in, 0.2))
    pytest.fail("deliveries still pending after the time limit")


def hold_and_resume(session) -> list[SessionEvent]:
    services.session_hold(actor=API, session_id=session.id)
    services.session_resume(actor=API, session_id=session.id)
    return list(SessionEvent.objects.filter(session=session).order_by("seq"))


def test_every_delivery_is_signed_by_the_standard_and_verifies(manager, session, receiver):
    webhook = subscribe(manager, receiver.url())
    held, resumed = hold_and_resume(session)

    drain()

    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(held.seq), str(resumed.seq)]
    verifier = Webhook(webhook.secret)
    for request, event in zip(receiver.requests, (held, resumed), strict=True):
        payload = verifier.verify(request.body, request.headers)
        assert payload["type"] == f"session.{event.kind}"
        assert payload["data"]["seq"] == event.seq
        assert payload["data"]["via"] == "api"
        assert payload["data"]["session"]["id"] == session.id
        assert payload["data"]["session"]["accountId"] == session.account_id
        assert request.headers["content-type"] == "application/json"
    assert receiver.requests[0].body != receiver.requests[1].body
    deliveries = WebhookDelivery.objects.filter(subscription=webhook).order_by("event_id")
    assert [(d.event_id, d.status, d.attempts) for d in deliveries] == [
        (held.seq, DeliveryStatus.DELIVERED, 1),
        (resumed.seq, DeliveryStatus.DELIVERED, 1),
    ]
    assert list(WebhookAttempt.objects.values_list("response_status", "error")) == [
        (200, ""),
        (200, ""),
    ]


def test_the_payload_is_the_event_as_the_event_stream_sends_it(manager, session, receiver):
    """One shape of an event for programs: a webhook's `data` is the `cmd.SessionEvent` body."""
    from sessions_app import serverevents

    subscribe(manager, receiver.url())
    services.session_hold(actor=API, session_id=session.id)
    held = SessionEvent.objects.filter(session=session).latest("seq")

    drain()

    [request] = receiver.requests
    [(_, _, frame)] = serverevents.frames_for(serverevents.event_rows(after=held.seq - 1))
    data_line = frame.split(b"\n")[1]  # "data: <account>@cmd.SessionEvent {json}"
    assert data_line.split(b" ", 2)[1].endswith(b"@cmd.SessionEvent")
    assert json.loads(request.body)["data"] == json.loads(data_line.split(b" ", 2)[2])


def test_a_signature_made_with_another_secret_does_not_verify(manager, session, receiver):
    subscribe(manager, receiver.url())
    services.session_hold(actor=API, session_id=session.id)

    drain()

    [request] = receiver.requests
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(webhook_services.new_secret()).verify(request.body, request.headers)


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    manager, session, receiver, fast_retries
):
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(500, body="boom"), Answer(500, body="boom again"))
    services.session_hold(actor=API, session_id=session.id)

    drain()

    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same message every time
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        Webhook(webhook.secret).verify(request.body, request.headers)
    [sent] = WebhookDelivery.objects.filter(subscription=webhook)
    assert (sent.status, sent.attempts) == (DeliveryStatus.DELIVERED, 3)
    attempts = list(sent.attempt_log.values_list("response_status", "response_excerpt", "error"))
    assert attempts == [
        (500, "boom", "The receiver answered 500"),
        (500, "boom again", "The receiver answered 500"),
        (200, "ok", ""),
    ]


def test_a_receiver_that_answers_410_is_disabled_and_gets_nothing_more(manager, session, receiver):
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(410, body="gone"))
    held, resumed = hold_and_resume(session)

    drain()

    assert len(receiver.requests) == 1  # the resume, behind the hold, is never sent
    webhook.refresh_from_db()
    assert webhook.active is False
    assert "410" in webhook.disabled_reason
    assert webhook.disabled_at is not None
    statuses = dict(
        WebhookDelivery.objects.filter(subscription=webhook).values_list("event_id", "status")
    )
    assert statuses == {held.seq: DeliveryStatus.FAILED, resumed.seq: DeliveryStatus.CANCELLED}

    services.session_end(actor=API, session_id=session.id)
    drain()
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.filter(subscription=webhook).count() == 2


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_sets_the_next_attempt(manager, session, receiver, status):
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(status, headers={"Retry-After": "120"}))
    services.session_hold(actor=API, session_id=session.id)
    before = timezone.now()

    delivery.deliver_once()

    [pending] = WebhookDelivery.objects.filter(subscription=webhook)
    assert pending.status == DeliveryStatus.PENDING
    assert pending.attempts == 1
    wait = (pending.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 125  # not the schedule's 5 s
    [attempt] = pending.attempt_log.all()
    assert (attempt.response_status, attempt.retry_after) == (status, 120)
    assert delivery.deliver_once() == 0  # not due yet


def test_retry_after_is_bounded_by_the_setting(manager, session, receiver, settings):
    settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS = 60
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(503, headers={"Retry-After": "86400"}))
    services.session_hold(actor=API, session_id=session.id)
    before = timezone.now()

    delivery.deliver_once()

    [pending] = WebhookDelivery.objects.filter(subscription=webhook)
    assert 59 <= (pending.next_attempt_at - before).total_seconds() <= 65
    assert pending.attempt_log.get().retry_after == 60


def test_retry_after_reads_seconds_and_http_dates():
    later = timezone.now() + timedelta(seconds=90)
    http_date = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert delivery.parse_retry_after("30") == 30
    assert 85 <= delivery.parse_retry_after(http_date) <= 91
    assert delivery.parse_retry_after("soon") is None
    assert delivery.parse_retry_after(None) is None


def test_a_timeout_is_recorded_and_retried(manager, session, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(200, delay=1.5))
    services.session_hold(actor=API, session_id=session.id)

    delivery.deliver_once()

    [pending] = WebhookDelivery.objects.filter(subscription=webhook)
    assert (pending.status, pending.attempts) == (DeliveryStatus.PENDING, 1)
    [attempt] = pending.attempt_log.all()
    assert attempt.response_status is None
    assert "timed out" in attempt.error  # the 200 it would have had, later, was not waited for


def test_a_receiver_dripping_its_answer_is_cut_off_at_the_timeout(manager, session, settings):
    """httpx's timeouts are per read: a receiver sending a byte every 0.1 s would meet none of
    them. The attempt's own deadline cuts it off anyway, and it is recorded as timed out rather
    than as the 200 the receiver would have finished with."""
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: " + b"x" * 40 + b"\r\n\r\nok"
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in answer:
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the worker hung up
                time.sleep(0.1)

    server = threading.Thread(target=drip, daemon=True)
    server.start()
    webhook = subscribe(manager, f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    services.session_hold(actor=API, session_id=session.id)

    try:
        delivery.deliver_once()
    finally:
        stop.set()
        server.join(timeout=10)
        listener.close()

    [pending] = WebhookDelivery.objects.filter(subscription=webhook)
    [attempt] = pending.attempt_log.all()
    assert (pending.status, attempt.response_status) == (DeliveryStatus.PENDING, None)
    assert "timed out" in attempt.error


def test_after_the_last_retry_the_delivery_fails_and_the_sessions_next_one_goes(
    manager, session, receiver, fast_retries
):
    webhook = subscribe(manager, receiver.url())
    receiver.answer(*[Answer(500)] * len(fast_retries))
    held, resumed = hold_and_resume(session)

    drain()

    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [str(held.seq)] * 3 + [str(resumed.seq)]
    statuses = dict(
        WebhookDelivery.objects.filter(subscription=webhook).values_list("event_id", "status")
    )
    assert statuses == {held.seq: DeliveryStatus.FAILED, resumed.seq: DeliveryStatus.DELIVERED}
    assert WebhookAttempt.objects.filter(delivery__event_id=held.seq).count() == 3


def test_a_session_waits_for_its_earlier_delivery_while_other_sessions_go_on(
    manager, account, receiver, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 60]
    webhook = subscribe(manager, receiver.url())
    first, second = CallSessionFactory(account=account), CallSessionFactory(account=account)
    receiver.answer(Answer(500))
    services.session_hold(actor=API, session_id=first.id)
    delivery.deliver_once()  # fails: retried in a minute
    services.session_hold(actor=API, session_id=second.id)
    services.session_resume(actor=API, session_id=first.id)  # must wait for the hold

    delivery.deliver_once()
    delivery.deliver_once()

    sent = [json.loads(r.body)["data"] for r in receiver.requests]
    assert [(d["session"]["id"], d["kind"]) for d in sent] == [
        (first.id, "held"),
        (second.id, "held"),
    ]
    waiting = WebhookDelivery.objects.get(subscription=webhook, session=first, kind="resumed")
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
    assert webhook_services.next_due_in() > 50  # the waiting resume does not count as due


def test_a_new_subscription_does_not_receive_history(manager, session, receiver):
    services.session_hold(actor=API, session_id=session.id)
    subscribe(manager, receiver.url())

    drain()

    assert receiver.requests == []
    assert WebhookDelivery.objects.count() == 0


def test_only_the_kinds_asked_for_are_sent(manager, session, receiver):
    webhook = subscribe(manager, receiver.url(), event_kinds=["session.resumed"])
    held, resumed = hold_and_resume(session)

    drain()

    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(resumed.seq)]
    webhook.refresh_from_db()
    assert webhook.cursor_seq >= resumed.seq  # the hold was passed over, not left behind


def test_events_of_other_accounts_are_not_sent(manager, receiver):
    subscribe(manager, receiver.url())
    stranger = CallSessionFactory(account=AccountFactory(name="Other"))
    services.session_hold(actor=API, session_id=stranger.id)

    drain()

    assert receiver.requests == []
    assert WebhookDelivery.objects.count() == 0


def test_a_target_that_became_private_is_not_sent_to(manager, session, receiver, settings):
    webhook = subscribe(manager, receiver.url())
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # e.g. the name now resolves to loopback
    services.session_hold(actor=API, session_id=session.id)

    delivery.deliver_once()

    assert receiver.requests == []
    [attempt] = WebhookAttempt.objects.filter(delivery__subscription=webhook)
    assert attempt.response_status is None
    assert attempt.error.startswith("Not sent:")
    assert "loopback" in attempt.error


def test_a_redelivery_sends_the_same_message_again(manager, session, receiver):
    webhook = subscribe(manager, receiver.url())
    services.session_hold(actor=API, session_id=session.id)
    drain()
    [sent] = WebhookDelivery.objects.filter(subscription=webhook)

    webhook_services.delivery_redeliver(user=manager, delivery_id=sent.pk)
    drain()

    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    sent.refresh_from_db()
    assert (sent.status, sent.attempts, sent.attempt_log.count()) == (
        DeliveryStatus.DELIVERED,
        1,
        2,
    )


def test_a_deleted_subscription_gets_nothing(manager, session, receiver):
    webhook = subscribe(manager, receiver.url())
    webhook_services.webhook_delete(user=manager, webhook_id=webhook.id)
    services.session_hold(actor=API, session_id=session.id)

    drain()

    assert receiver.requests == []
    assert not WebhookSubscription.objects.exists()


def test_the_command_makes_one_pass_with_once(manager, session, receiver, capsys):
    subscribe(manager, receiver.url())
    services.session_hold(actor=API, session_id=session.id)

    call_command("deliver_webhooks", "--once")

    assert "1 attempt(s) made" in capsys.readouterr().out
    assert len(receiver.requests) == 1


def test_a_failing_pass_is_retried_at_the_poll_pace_not_at_every_event(monkeypatch, settings):
    """A broken pass (the database down, say) must not spin once per session event heard."""
    settings.EVENTS_BACKEND = "local"
    passes = []

    def broken(client=None):
        passes.append(time.monotonic())
        raise RuntimeError("the database is down")

    monkeypatch.setattr(delivery, "deliver_once", broken)
    stop = threading.Event()
    worker = threading.Thread(target=delivery.deliver_forever, args=(stop, 0.4))
    worker.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            events.dispatch(events.Notice("s", "a", "changed"))  # events keep coming
            time.sleep(0.01)
    finally:
        stop.set()
        worker.join(timeout=5)
    assert not worker.is_alive()
    assert 2 <= len(passes) <= 4


def test_only_the_start_of_a_huge_answer_is_read_and_recorded(manager, session, receiver):
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(200, body="x" * 5_000_000))
    services.session_hold(actor=API, session_id=session.id)

    delivery.deliver_once()

    [attempt] = WebhookAttempt.objects.filter(delivery__subscription=webhook)
    assert (attempt.response_status, attempt.response_excerpt) == (200, "x" * 500)
