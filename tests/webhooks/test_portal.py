"""The webhook pages of the portal: Managers make webhooks and see the secret once, Users
cannot, and a redelivery queues a new attempt."""

import json

import pytest
from django.test import Client

from sessions_app import services
from sessions_app.models import Role, Via
from sessions_app.webhooks import delivery
from sessions_app.webhooks import services as webhook_services
from sessions_app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tests.factories import CallSessionFactory, UserFactory
from tests.webhooks.conftest import Answer, subscribe

API = services.Actor(user=None, via=Via.API)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def as_user(client, user):
    client.force_login(user)
    return client


def test_the_header_links_webhooks_for_managers_only(client, manager, user):
    client.force_login(manager)
    assert b'href="/manage/webhooks/"' in client.get("/").content
    client.force_login(user)
    assert b'href="/manage/webhooks/"' not in client.get("/").content


def test_a_manager_creates_a_webhook_and_sees_the_secret_once(as_manager, account):
    response = as_manager.post(
        "/manage/webhooks/new",
        {
            "account": account.id,
            "url": "https://example.com/hook",
            "kinds": ["held"],
            "active": "1",
        },
    )

    assert response.status_code == 200
    webhook = WebhookSubscription.objects.get()
    assert (webhook.url, webhook.event_kinds, webhook.active) == (
        "https://example.com/hook",
        ["held"],
        True,
    )
    assert webhook.secret in response.content.decode()
    assert "not shown again" in response.content.decode()
    assert response["Cache-Control"] == "no-store"

    for page in ("/manage/webhooks/", f"/manage/webhooks/{webhook.id}/"):
        shown = as_manager.get(page)
        assert shown.status_code == 200
        assert webhook.secret not in shown.content.decode()
        assert webhook.secret_hint in shown.content.decode()


def test_an_invalid_webhook_shows_the_form_again_with_why(as_manager, account, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = as_manager.post(
        "/manage/webhooks/new", {"account": account.id, "url": "http://192.168.0.10/hook"}
    )

    assert response.status_code == 400
    assert "public addresses only" in response.content.decode()
    assert 'value="http://192.168.0.10/hook"' in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_a_user_can_neither_see_nor_make_webhooks(as_user, account):
    assert as_user.get("/manage/webhooks/").status_code == 403
    response = as_user.post(
        "/manage/webhooks/new", {"account": account.id, "url": "https://example.com/hook"}
    )
    assert response.status_code == 403
    assert not WebhookSubscription.objects.exists()


def test_signing_in_comes_first(client, db):
    response = client.get("/manage/webhooks/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_another_accounts_webhook_is_not_found(as_manager, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    theirs = subscribe(admin, "https://example.com/", account_id=other_account.id)

    assert as_manager.get(f"/manage/webhooks/{theirs.id}/").status_code == 404
    assert as_manager.post(f"/manage/webhooks/{theirs.id}/delete").status_code == 404
    assert WebhookSubscription.objects.filter(pk=theirs.pk).exists()


def _delivered_once(manager, session, receiver) -> WebhookDelivery:
    webhook = subscribe(manager, receiver.url())
    receiver.answer(Answer(500, body="try later"))
    services.session_hold(actor=API, session_id=session.id)
    delivery.deliver_once()
    return WebhookDelivery.objects.get(subscription=webhook)


def test_the_webhook_page_shows_each_delivery_and_its_attempts(
    as_manager, manager, session, receiver
):
    sent = _delivered_once(manager, session, receiver)

    page = as_manager.get(f"/manage/webhooks/{sent.subscription_id}/").content.decode()

    assert f"#{sent.event_id}" in page
    assert "session.held" in page
    assert "The receiver answered 500" in page
    assert "try later" in page
    assert f'action="/manage/webhooks/deliveries/{sent.pk}/redeliver"' in page

    fragment = as_manager.get(
        f"/manage/webhooks/{sent.subscription_id}/", **HTMX, HTTP_HX_TARGET="deliveries"
    )
    assert fragment.content.decode().startswith('<div id="deliveries"')


def test_redeliver_queues_a_new_attempt(as_manager, manager, session, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0]  # the first failure was the last attempt
    sent = _delivered_once(manager, session, receiver)
    assert sent.status == DeliveryStatus.FAILED

    response = as_manager.post(f"/manage/webhooks/deliveries/{sent.pk}/redeliver")

    assert response.status_code == 302
    assert response["Location"] == f"/manage/webhooks/{sent.subscription_id}/"
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == (DeliveryStatus.PENDING, 0)
    delivery.deliver_once()
    sent.refresh_from_db()
    assert (sent.status, sent.attempt_log.count()) == (DeliveryStatus.DELIVERED, 2)
    assert len(receiver.requests) == 2


def test_redeliver_with_htmx_answers_the_delivery_rows(as_manager, manager, session, receiver):
    sent = _delivered_once(manager, session, receiver)

    response = as_manager.post(f"/manage/webhooks/deliveries/{sent.pk}/redeliver", **HTMX)

    assert response.status_code == 200
    assert response.content.decode().startswith(f'<tbody id="delivery-{sent.pk}">')
    assert "Pending" in response.content.decode()
    assert "queued for redelivery" in response["HX-Trigger-After-Swap"]


def test_redelivering_to_a_disabled_webhook_says_why(as_manager, manager, session, receiver):
    sent = _delivered_once(manager, session, receiver)
    webhook_services.webhook_set_active(user=manager, webhook_id=sent.subscription_id, active=False)

    response = as_manager.post(f"/manage/webhooks/deliveries/{sent.pk}/redeliver", **HTMX)

    flash = json.loads(response["HX-Trigger-After-Swap"])["portal-flash"]
    assert flash == {
        "message": "This webhook is disabled: enable it before redelivering.",
        "failed": True,
    }
    sent.refresh_from_db()
    assert sent.status == DeliveryStatus.CANCELLED


def test_redeliver_needs_the_csrf_token(manager, session, receiver):
    sent = _delivered_once(manager, session, receiver)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)

    assert browser.post(f"/manage/webhooks/deliveries/{sent.pk}/redeliver").status_code == 403
    sent.refresh_from_db()
    assert sent.attempts == 1


def test_a_user_cannot_redeliver(client, user, manager, session, receiver):
    sent = _delivered_once(manager, session, receiver)
    client.force_login(user)

    assert client.post(f"/manage/webhooks/deliveries/{sent.pk}/redeliver").status_code == 403
    sent.refresh_from_db()
    assert sent.attempts == 1


def test_disable_enable_and_delete(as_manager, manager):
    webhook = subscribe(manager, "https://example.com/")
    page = f"/manage/webhooks/{webhook.id}/"

    assert as_manager.post(f"{page}active", {"active": "0"})["Location"] == page
    webhook.refresh_from_db()
    assert (webhook.active, webhook.disabled_reason) == (False, "Disabled by mona")
    assert "Enable" in as_manager.get(page).content.decode()

    as_manager.post(f"{page}active", {"active": "1"})
    webhook.refresh_from_db()
    assert webhook.active is True

    response = as_manager.post(f"{page}delete")
    assert response["Location"] == "/manage/webhooks/"
    assert not WebhookSubscription.objects.exists()


def test_the_pages_cost_a_fixed_number_of_queries(
    as_manager, manager, account, receiver, django_assert_num_queries
):
    webhook = subscribe(manager, receiver.url())
    subscribe(manager, "https://example.com/other")
    receiver.answer(Answer(500), Answer(500))
    for _ in range(3):
        session = CallSessionFactory(account=account)
        services.session_hold(actor=API, session_id=session.id)
    delivery.deliver_once()
    delivery.deliver_once()

    # 1. the Django session, 2. the user, 3. the accounts managed (the form), 4. the webhooks
    # with their accounts
    with django_assert_num_queries(4):
        assert as_manager.get("/manage/webhooks/").status_code == 200
    # 1. the Django session, 2. the user, 3. the webhook with its account, 4. its deliveries,
    # 5. their attempts
    with django_assert_num_queries(5):
        page = as_manager.get(f"/manage/webhooks/{webhook.id}/")
    assert page.content.decode().count("Redeliver</button>") == 3
