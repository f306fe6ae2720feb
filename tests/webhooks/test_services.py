"""The webhooks services: who may make and change subscriptions, what a refused call leaves
(nothing), and the worker's claim/record steps that make several workers safe."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions_app import services
from sessions_app.errors import InvalidState, ResourceNotFound, ValidationFailed
from sessions_app.models import Role, SessionEvent, Via
from sessions_app.webhooks import services as webhook_services
from sessions_app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tests.factories import AccountFactory, CallSessionFactory, UserFactory
from tests.webhooks.conftest import subscribe

API = services.Actor(user=None, via=Via.API)


def table() -> list[dict]:
    return list(WebhookSubscription.objects.order_by("id").values())


def test_a_manager_subscribes_their_account_from_the_newest_event_on(manager, session):
    services.session_hold(actor=API, session_id=session.id)
    last = SessionEvent.objects.latest("seq").seq

    webhook = subscribe(manager, " https://example.com/hook ", event_kinds=["Held", "held"])

    webhook.refresh_from_db()
    assert webhook.account == session.account
    assert webhook.url == "https://example.com/hook"
    assert webhook.event_kinds == ["held"]
    assert webhook.active is True
    assert webhook.created_by == "mona"
    assert webhook.cursor_seq == last
    assert webhook.secret.startswith("whsec_")
    assert len(base64.b64decode(webhook.secret.removeprefix("whsec_"))) >= 24
    assert webhook.secret_hint == "whsec_…" + webhook.secret.rstrip("=")[-4:]


def test_every_subscription_gets_its_own_secret(manager):
    first = subscribe(manager, "https://example.com/a")
    second = subscribe(manager, "https://example.com/b")
    assert first.secret != second.secret


@pytest.mark.parametrize(
    ("options", "field", "code"),
    [
        ({"url": "ftp://example.com/"}, "Url", "InvalidUrl"),
        ({"url": ""}, "Url", "InvalidUrl"),
        ({"url": "https://example.com/", "event_kinds": ["exploded"]}, "EventKinds", "InvalidEnum"),
        ({"url": "https://example.com/", "account_id": "nope"}, "AccountId", "NotFound"),
    ],
)
def test_invalid_subscriptions_are_refused_and_leave_nothing(manager, options, field, code):
    with pytest.raises(ValidationFailed) as refused:
        webhook_services.webhook_create(user=manager, **options)
    assert [(e.field, e.code) for e in refused.value.field_errors] == [(field, code)]
    assert table() == []


def test_a_private_target_is_refused_when_not_allowed(manager, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(ValidationFailed, match="public addresses only"):
        subscribe(manager, "http://127.0.0.1:9/hook")
    assert table() == []


def test_a_manager_cannot_subscribe_another_account(manager, other_account):
    with pytest.raises(ValidationFailed, match="No account"):
        subscribe(manager, "https://example.com/", account_id=other_account.id)
    assert table() == []


def test_a_plain_user_manages_no_account(user):
    with pytest.raises(ValidationFailed, match="AccountId"):
        subscribe(user, "https://example.com/")
    assert table() == []


def test_an_administrator_names_the_account(account, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    with pytest.raises(ValidationFailed, match="'AccountId' is required"):
        subscribe(admin, "https://example.com/")
    webhook = subscribe(admin, "https://example.com/", account_id=other_account.id)
    assert webhook.account == other_account


def _pending(webhook, session) -> WebhookDelivery:
    services.session_hold(actor=API, session_id=session.id)
    webhook_services.deliveries_queue(webhook.id)
    return WebhookDelivery.objects.get(subscription=webhook)


def test_disabling_cancels_the_pending_deliveries_and_enabling_starts_afresh(manager, session):
    webhook = subscribe(manager, "https://example.com/")
    pending = _pending(webhook, session)

    webhook_services.webhook_set_active(user=manager, webhook_id=webhook.id, active=False)
    services.session_resume(actor=API, session_id=session.id)  # while it is off

    webhook.refresh_from_db()
    pending.refresh_from_db()
    assert (webhook.active, webhook.disabled_reason) == (False, "Disabled by mona")
    assert pending.status == DeliveryStatus.CANCELLED

    webhook_services.webhook_set_active(user=manager, webhook_id=webhook.id, active=True)

    webhook.refresh_from_db()
    assert (webhook.active, webhook.disabled_reason, webhook.disabled_at) == (True, "", None)
    assert webhook.cursor_seq == SessionEvent.objects.latest("seq").seq  # the resume is skipped


def test_another_accounts_webhook_does_not_exist_for_a_manager(manager, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    theirs = subscribe(admin, "https://example.com/", account_id=other_account.id)
    before = table()

    for attempt in (
        lambda: webhook_services.webhook_delete(user=manager, webhook_id=theirs.id),
        lambda: webhook_services.webhook_set_active(
            user=manager, webhook_id=theirs.id, active=False
        ),
    ):
        with pytest.raises(ResourceNotFound):
            attempt()
    assert table() == before


def test_a_disabled_webhook_cannot_be_redelivered(manager, session):
    webhook = subscribe(manager, "https://example.com/")
    pending = _pending(webhook, session)
    webhook_services.webhook_set_active(user=manager, webhook_id=webhook.id, active=False)

    with pytest.raises(InvalidState, match="disabled"):
        webhook_services.delivery_redeliver(user=manager, delivery_id=pending.pk)
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.CANCELLED


def test_a_user_cannot_redeliver(manager, user, session):
    pending = _pending(subscribe(manager, "https://example.com/"), session)
    with pytest.raises(ResourceNotFound):
        webhook_services.delivery_redeliver(user=user, delivery_id=pending.pk)


# --- the worker's steps --------------------------------------------------------------------------


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out(manager, session):
    webhook = subscribe(manager, "https://example.com/")
    pending = _pending(webhook, session)

    [first] = webhook_services.deliveries_claim()
    assert webhook_services.deliveries_claim() == []  # another worker finds nothing

    later = timezone.now() + timedelta(minutes=5)  # the first worker died mid-send
    [again] = webhook_services.deliveries_claim(now=later)
    assert again.delivery_id == first.delivery_id == pending.pk
    assert again.token != first.token


def test_a_worker_whose_lease_was_taken_over_records_its_attempt_and_nothing_else(manager, session):
    webhook = subscribe(manager, "https://example.com/")
    _pending(webhook, session)
    [first] = webhook_services.deliveries_claim()
    [second] = webhook_services.deliveries_claim(now=timezone.now() + timedelta(minutes=5))
    ok = webhook_services.AttemptOutcome(started=timezone.now(), duration_ms=5, status=200)

    webhook_services.delivery_record(first, ok)  # too late: the second worker holds it

    delivery = WebhookDelivery.objects.get(subscription=webhook)
    assert (delivery.status, delivery.attempts, delivery.claim_token) == (
        DeliveryStatus.PENDING,
        0,
        second.token,
    )
    assert delivery.attempt_log.count() == 1

    webhook_services.delivery_record(second, ok)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)


@pytest.mark.django_db(transaction=True)
def test_a_delivery_locked_by_another_worker_is_skipped_not_waited_for():
    """SKIP LOCKED: while one worker's claim transaction holds a row, another claims the rest."""
    import threading

    from django.db import connection, transaction

    account = AccountFactory()
    manager = UserFactory(role=Role.MANAGER, accounts=[account])
    webhook = subscribe(manager, "https://example.com/")
    first, second = CallSessionFactory(account=account), CallSessionFactory(account=account)
    services.session_hold(actor=API, session_id=first.id)
    services.session_hold(actor=API, session_id=second.id)
    webhook_services.deliveries_queue(webhook.id)
    locked = WebhookDelivery.objects.get(session=first)
    holding, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                WebhookDelivery.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=hold_the_row)
    other.start()
    try:
        assert holding.wait(5)
        claimed = webhook_services.deliveries_claim()
    finally:
        release.set()
        other.join(10)
    assert [c.delivery_id for c in claimed] == [WebhookDelivery.objects.get(session=second).pk]


def test_queuing_twice_makes_no_second_delivery(manager, session):
    webhook = subscribe(manager, "https://example.com/")
    services.session_hold(actor=API, session_id=session.id)

    assert webhook_services.deliveries_queue(webhook.id) == 1
    WebhookSubscription.objects.filter(pk=webhook.pk).update(cursor_seq=0)  # as if replayed
    webhook_services.deliveries_queue(webhook.id)

    assert WebhookDelivery.objects.filter(subscription=webhook).count() == 1
