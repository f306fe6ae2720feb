"""Hold, resume and invite from a session's row, with and without JavaScript."""

import re

from django.utils import timezone
from playwright.sync_api import expect

from sessions_app.models import (
    CallSession,
    CallState,
    DialState,
    HoldReason,
    MemberCallState,
    SessionEvent,
    SessionMember,
    Via,
)
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, CallSessionFactory

LIVE = 3000  # ms: a streamed change must be on screen within this


def test_hold_with_reason_changes_the_row_in_place_and_the_database(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account, from_name="Ada Lovelace")
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    page.evaluate("window.__marker = 1")
    # Hold the request in the browser until the button has been seen waiting.
    held_requests = []
    page.route(f"**/live/sessions/{session.id}/hold", lambda route: held_requests.append(route))

    row = page.locator(f"#session-{session.id}")
    row.locator("select[name=reason]").select_option("Transferring")
    row.locator("button.act-hold").click()

    expect(row.locator("button.act-hold")).to_be_disabled()
    expect(row.locator("select[name=reason]")).to_be_disabled()
    held_requests[0].continue_()

    # The counters follow (over the event stream), and the table stays.
    expect(page.locator("dd[data-counter=on_hold]")).to_have_text("1", timeout=LIVE)
    expect(page.locator("dd[data-counter=connected]")).to_have_text("0")
    expect(row.locator(".badge.call-hold")).to_have_text("Hold", timeout=LIVE)
    expect(row.locator(".hold-info")).to_contain_text("Transferring")
    expect(row.locator(".hold-timer")).to_have_text(re.compile(r"^0:0\d$"))
    expect(row.locator("button.act-resume")).to_be_visible()
    expect(row.locator("button.act-hold")).to_have_count(0)
    expect(page.locator("#flash")).to_have_text("Call put on hold.")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"

    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    assert session.hold_reason == HoldReason.TRANSFERRING
    assert session.held_at is not None
    entry = SessionEvent.objects.filter(session=session).latest("seq")
    assert entry.via == Via.PORTAL
    assert entry.actor_id == user.id
    assert entry.message == "Ada Lovelace put on hold (Transferring) by alice via portal"


def test_resume_puts_the_row_and_the_database_back_to_connected(
    user, account, new_page, server_url
):
    session = CallSessionFactory(
        account=account,
        call_state=CallState.HOLD,
        hold_reason=HoldReason.TRANSFERRING,
        held_at=timezone.now(),
    )
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    row = page.locator(f"#session-{session.id}")
    row.locator("button.act-resume").click()

    expect(page.locator("dd[data-counter=connected]")).to_have_text("1", timeout=LIVE)
    expect(page.locator("dd[data-counter=on_hold]")).to_have_text("0")
    expect(row.locator(".badge.call-connected")).to_have_text("Connected", timeout=LIVE)
    expect(row.locator(".hold-timer")).to_have_count(0)
    expect(row.locator("button.act-hold")).to_be_visible()
    expect(row.locator("button.act-resume")).to_have_count(0)
    expect(page.locator("#flash")).to_have_text("Call resumed.")

    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert session.hold_reason == HoldReason.NONE
    assert session.held_at is None
    entry = SessionEvent.objects.filter(session=session).latest("seq")
    assert (entry.via, entry.message) == (Via.PORTAL, "Resumed from hold by alice via portal")


def test_invited_member_rings_then_connects_live_on_the_detail_page(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account, from_name="Ada Lovelace")
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    # The detail page, open in a second tab of the same browser, follows the call live.
    detail = page.context.new_page()
    detail.goto(f"{server_url}/live/sessions/{session.id}")
    expect(detail.locator("#live-status")).to_have_attribute("data-state", "live")
    detail.evaluate("window.__marker = 1")

    row = page.locator(f"#session-{session.id}")
    row.locator("details.invite summary").click()
    row.locator("input[name=destination]").fill("+15557654321")
    row.locator("button.act-invite").click()

    expect(page.locator("#flash")).to_have_text("Inviting +15557654321: ringing.")
    expect(row.locator(".badge.dial-active")).to_have_text("Dialing")
    member = detail.locator("tr.member", has_text="+15557654321")
    expect(member.locator(".badge")).to_have_text("Ringing", timeout=LIVE)
    # The simulated party answers 1.5 s after the invite.
    expect(member.locator(".badge")).to_have_text("Connected", timeout=4000)
    # Once everyone has answered, the row no longer says Dialing (and is still there).
    expect(row.locator(".badge.dial-active")).to_have_count(0, timeout=LIVE)
    expect(row.locator(".badge.call-connected")).to_have_text("Connected", timeout=LIVE)
    assert detail.evaluate("window.__marker") == 1, "the detail page was reloaded"

    invited = SessionMember.objects.get(session=session, identity="+15557654321")
    assert invited.call_state == MemberCallState.CONNECTED
    expect(member).to_have_attribute("data-call-sid", invited.call_sid)
    assert CallSession.objects.get(pk=session.pk).dial_state == DialState.NONE


def test_invite_to_invalid_destination_shows_a_readable_error_and_adds_no_member(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account)
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    row = page.locator(f"#session-{session.id}")
    row.locator("details.invite summary").click()
    row.locator("input[name=destination]").fill("abc")
    row.locator("button.act-invite").click()

    flash = page.locator("#flash .flash-error")
    expect(flash).to_have_text(
        "Destination must be an E.164 number (+15551234567), a sip: URI or a client: identity."
    )
    expect(row.locator(".badge.call-connected")).to_have_text("Connected")
    expect(row.locator(".badge.dial-active")).to_have_count(0)
    assert list(
        SessionMember.objects.filter(session=session).values_list("identity", flat=True)
    ) == [session.from_address]
    # A refused action is an answer, not a failure: no page or console error.
    assert page.errors == []
    assert page.console_errors == []


def test_without_javascript_hold_works_through_the_plain_form(user, account, new_page, server_url):
    session = CallSessionFactory(account=account, from_name="Ada Lovelace")
    page = new_page(java_script_enabled=False)
    sign_in(page, server_url, "alice", PASSWORD, live=False)
    expect(page).to_have_url(f"{server_url}/")

    row = page.locator(f"#session-{session.id}")
    expect(row.locator("a.caller")).to_have_text("Ada Lovelace")
    row.locator("select[name=reason]").select_option("Transferring")
    with page.expect_navigation():
        row.locator("button.act-hold").click()

    expect(page).to_have_url(f"{server_url}/")
    expect(page.locator("#flash .flash-success")).to_have_text("Call put on hold.")
    expect(row.locator(".badge.call-hold")).to_have_text("Hold")
    expect(row.locator(".hold-info")).to_contain_text("Transferring")
    session.refresh_from_db()
    assert (session.call_state, session.hold_reason) == (CallState.HOLD, HoldReason.TRANSFERRING)


def test_hold_result_is_shown_even_if_the_table_is_redrawn_meanwhile(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account, from_name="Ada Lovelace")
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    held_requests = []
    page.route(f"**/live/sessions/{session.id}/hold", lambda route: held_requests.append(route))
    page.locator(f"#session-{session.id} button.act-hold").click()
    expect(page.locator(f"#session-{session.id} button.act-hold")).to_be_disabled()

    # While the hold is on its way the table is redrawn, as the fallback polling does: the
    # redrawn row's button is a new one, not waiting for anything.
    page.evaluate("htmx.trigger('#sessions-region', 'poll')")
    expect(page.locator(f"#session-{session.id} button.act-hold")).to_be_enabled()
    held_requests[0].continue_()

    expect(page.locator(f"#session-{session.id} .badge.call-hold")).to_have_text(
        "Hold", timeout=LIVE
    )
    expect(page.locator("#flash")).to_have_text("Call put on hold.", timeout=LIVE)
