"""The session detail page's call controls, by keyboard, by their accessible names: a member
muted from one page shows its pending state there and arrives live on another open page."""

from playwright.sync_api import expect

from sessions_app.models import Role, SessionEvent, Via
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, CallSessionFactory, SessionMemberFactory, UserFactory

LIVE = 3000  # ms: a streamed change must be on screen within this


def test_mute_a_member_by_keyboard_shows_pending_and_updates_other_pages(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account, from_name="Ada Lovelace")
    agent = SessionMemberFactory(session=session, display_name="Bob Agent")
    UserFactory(username="bob", accounts=[account])
    detail = f"/live/sessions/{session.id}"
    first, second = new_page(), new_page()
    sign_in(first, server_url, "alice", PASSWORD, next_path=detail)
    sign_in(second, server_url, "bob", PASSWORD, next_path=detail)
    waiting = []
    first.route(f"**{detail}/members/{agent.call_sid}", lambda route: waiting.append(route))

    controls = first.get_by_role("form", name="Controls of Bob Agent")
    mute = controls.get_by_role("button", name="Mute", exact=True)
    mute.focus()
    first.keyboard.press("Enter")

    # Pending: every control of the page waits (the clicked one says so, "Mute …").
    expect(controls.locator("button[value=mute]")).to_be_disabled()
    expect(first.get_by_role("button", name="End call", exact=True)).to_be_disabled()
    waiting[0].continue_()
    expect(controls.get_by_role("button", name="Unmute", exact=True)).to_be_visible(timeout=LIVE)
    expect(first.locator("#flash")).to_have_text("Member muted.")
    other = second.get_by_role("form", name="Controls of Bob Agent")
    expect(other.get_by_role("button", name="Unmute", exact=True)).to_be_visible(timeout=LIVE)
    event = SessionEvent.objects.filter(session=session).latest("seq")
    assert (event.kind, event.via) == ("member_muted", Via.PORTAL)


def test_every_call_control_has_its_accessible_name(account, new_page, server_url):
    session = CallSessionFactory(account=account)
    SessionMemberFactory(session=session, display_name="Bob Agent")
    UserFactory(
        username="maria", role=Role.MANAGER, accounts=[account], monitor_destination="client:m"
    )
    page = new_page()
    sign_in(page, server_url, "maria", PASSWORD, next_path=f"/live/sessions/{session.id}")

    for name in ("End call", "Transfer", "Listen", "Coach", "Barge"):
        expect(page.get_by_role("button", name=name, exact=True)).to_have_count(1)
    agent = page.get_by_role("form", name="Controls of Bob Agent")
    for name in ("Hold", "Mute", "Remove"):
        expect(agent.get_by_role("button", name=name, exact=True)).to_be_visible()
    expect(page.get_by_label("Your phone or client")).to_have_value("client:m")

    page.get_by_role("button", name="Listen", exact=True).focus()
    page.keyboard.press("Enter")

    expect(page.locator("#monitoring-status")).to_contain_text(
        "Monitored by maria (Listen)", timeout=LIVE
    )
    expect(page.get_by_role("button", name="Stop monitoring")).to_be_visible()
