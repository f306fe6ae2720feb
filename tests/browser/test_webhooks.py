"""Webhooks in a real browser: a Manager makes one and sees its secret once, and Redeliver
swaps the delivery's rows in place (htmx), with the content security policy in force."""

from playwright.sync_api import expect

from sessions_app import services
from sessions_app.models import Role, Via
from sessions_app.webhooks import delivery
from sessions_app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from tests.browser.conftest import sign_in
from tests.conftest import artifacts
from tests.factories import PASSWORD, CallSessionFactory, UserFactory
from tests.webhooks.conftest import Answer, Receiver


def test_a_manager_makes_a_webhook_sees_the_secret_once_and_redelivers(
    account, new_page, server_url
):
    receiver = Receiver()
    try:
        _make_and_redeliver(account, new_page, server_url, receiver)
    finally:
        receiver.close()


def _make_and_redeliver(account, new_page, server_url, receiver):
    UserFactory(username="mona", role=Role.MANAGER, accounts=[account])
    page = new_page()
    sign_in(page, server_url, "mona", PASSWORD, next_path="/", live=False)

    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url())
    page.get_by_label("held", exact=True).check()
    page.get_by_role("button", name="Create webhook").click()

    webhook = WebhookSubscription.objects.get()
    expect(page.locator("#webhook-secret")).to_have_text(webhook.secret)
    assert webhook.event_kinds == ["held"]
    page.screenshot(path=artifacts() / "webhook-created.png")

    receiver.answer(Answer(500, body="not now"))
    session = CallSessionFactory(account=account)
    services.session_hold(actor=services.Actor(user=None, via=Via.API), session_id=session.id)
    delivery.deliver_once()
    sent = WebhookDelivery.objects.get(subscription=webhook)

    page.get_by_role("link", name="Go to the webhook").click()
    expect(page.locator("body")).not_to_contain_text(webhook.secret)
    rows = page.locator(f"#delivery-{sent.pk}")
    expect(rows).to_contain_text("The receiver answered 500")
    page.evaluate("window.__marker = 1")
    rows.get_by_role("button", name="Redeliver").click()

    expect(page.locator("#flash")).to_have_text(f"Event #{sent.event_id} queued for redelivery.")
    expect(page.locator(f"#delivery-{sent.pk} .badge")).to_have_text("Pending")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    sent.refresh_from_db()
    assert (sent.status, sent.attempts) == (DeliveryStatus.PENDING, 0)
    page.screenshot(path=artifacts() / "webhook-detail.png", full_page=True)
    assert page.errors == [] and page.console_errors == []
