"""The README's screenshots, taken from a realistic set of calls. Every run takes them (so the
pages are exercised) into test-artifacts/; `UPDATE_SCREENSHOTS=1` (or `make screenshots`)
writes them to docs/ instead, after a UI change, so that a test run leaves the tree clean."""

import os
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from sessions_app import services
from sessions_app.models import CallSession, Direction, HoldReason, QueueState, Role, Via
from sessions_app.telephony.simulated import new_sid
from tests.browser.conftest import ROOT, sign_in
from tests.factories import PASSWORD, AccountFactory, CustomerFactory, EndpointFactory, UserFactory

SCREENSHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") else "test-artifacts")


def seed_calls(admin) -> dict[str, CallSession]:
    """A busy minute at a clinic group: one call of each kind the portal shows."""
    account = AccountFactory(name="Northwind Clinics")
    admin.accounts.set([account])
    top = CustomerFactory(account=account, name="Northwind Clinics")
    downtown = CustomerFactory(account=account, parent=top, name="Downtown Clinic")
    harbor = CustomerFactory(account=account, parent=top, name="Harbor Clinic")
    pediatrics = CustomerFactory(account=account, parent=harbor, name="Pediatrics")
    front_desk = EndpointFactory(account=account, customer=downtown, name="Front desk")
    peds_line = EndpointFactory(account=account, customer=pediatrics, name="Pediatrics line")
    maria = EndpointFactory(account=account, customer=harbor, name="Maria Chen")

    provider = services.Actor(user=None, via=Via.PROVIDER)
    portal = services.Actor(user=admin, via=Via.PORTAL)
    now = timezone.now()

    def call(ago, **kwargs):
        kwargs.setdefault("to_address", "+14155550100")
        return services.session_start(
            call_sid=new_sid("CA"),
            actor=provider,
            account_id=account.id,
            when=now - timedelta(seconds=ago),
            **kwargs,
        )

    def answer(session, by):
        return services.session_answer(actor=provider, session_id=session.id, answered_by_name=by)

    calls = {
        "ringing": call(
            12,
            customer=downtown,
            endpoint=front_desk,
            from_address="+14155550123",
            from_name="Jordan Ellis",
        ),
        "queued": call(
            134,
            customer=pediatrics,
            endpoint=peds_line,
            from_address="+16505550172",
            from_name="Lena Fischer",
            queue_state=QueueState.QUEUED,
        ),
        "connected": call(
            318, customer=pediatrics, endpoint=peds_line, from_address="+15105550166"
        ),
        "transferring": call(
            245,
            customer=downtown,
            endpoint=front_desk,
            from_address="+14085550111",
            from_name="Samuel Okafor",
        ),
        "long_hold": call(
            611, customer=harbor, endpoint=maria, from_address="+17075550134", from_name="Ruth Park"
        ),
        "conference": call(
            402,
            customer=harbor,
            endpoint=maria,
            from_address="+14155550187",
            from_name="Marcus Webb",
        ),
        "outgoing": call(
            95,
            customer=harbor,
            endpoint=maria,
            direction=Direction.OUTGOING,
            from_address="+14155550100",
            from_name="Maria Chen",
            to_address="+12125550147",
        ),
        "chat": call(
            57,
            customer=downtown,
            channel="Chat",
            from_address="+13125550188",
            from_name="Dana Whitfield",
            to_address="+14155550100",
        ),
    }
    answer(calls["connected"], "Priya Raman")
    answer(calls["transferring"], "Front desk")
    answer(calls["long_hold"], "Maria Chen")
    answer(calls["conference"], "Maria Chen")
    answer(calls["outgoing"], "Maria Chen")
    answer(calls["chat"], "Tom Alvarez")
    services.session_hold(
        actor=portal, session_id=calls["transferring"].id, reason=HoldReason.TRANSFERRING
    )
    services.session_hold(actor=portal, session_id=calls["long_hold"].id)
    CallSession.objects.filter(pk=calls["transferring"].pk).update(
        held_at=now - timedelta(seconds=75)
    )
    CallSession.objects.filter(pk=calls["long_hold"].pk).update(
        held_at=now - timedelta(seconds=204)
    )
    # Invited parties never answer in the test process: this one stays ringing (Dialing).
    services.conference_member_add(
        actor=portal, session_id=calls["conference"].id, destination="+14155550999"
    )
    return calls


def test_readme_screenshots(transactional_db, new_page, server_url):
    admin = UserFactory(username="jane.admin", role=Role.MANAGER)
    calls = seed_calls(admin)
    SCREENSHOTS.mkdir(exist_ok=True)

    page = new_page(1400, 900)
    sign_in(page, server_url, "jane.admin", PASSWORD)
    expect(page.locator("tr[data-session-id]")).to_have_count(len(calls))
    expect(page.locator(f"#session-{calls['long_hold'].id}")).to_have_class("state-hold hold-alert")
    # Not full_page: headless Chromium draws the table blank in full-page captures.
    page.screenshot(path=SCREENSHOTS / "active-sessions.png")

    page.goto(f"{server_url}/live/sessions/{calls['conference'].id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("tr.member")).to_have_count(2)
    # Tall enough for the members and the log, still a viewport capture (see above).
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(height, 1800)})
    page.screenshot(path=SCREENSHOTS / "session-detail.png")

    phone = new_page(390, 844)
    sign_in(phone, server_url, "jane.admin", PASSWORD)
    expect(phone.locator("tr[data-session-id]")).to_have_count(len(calls))
    phone.screenshot(path=SCREENSHOTS / "active-sessions-phone.png")

    assert page.errors == phone.errors == []
    assert page.console_errors == phone.console_errors == []
    for name in ("active-sessions.png", "session-detail.png", "active-sessions-phone.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000
