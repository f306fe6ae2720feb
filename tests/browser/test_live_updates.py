"""Changes made elsewhere (another browser, the REST API, the telephony side) appear on open
pages without a reload, over the event stream, or by polling while the stream is down."""

import re

import httpx
from playwright.sync_api import expect

from sessions_app import services
from sessions_app.models import Via
from sessions_app.telephony.simulated import new_sid
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, CallSessionFactory, UserFactory

LIVE = 3000  # ms: a streamed change must be on screen within this


def test_hold_in_one_browser_appears_in_another_without_reload(user, account, new_page, server_url):
    session = CallSessionFactory(account=account)
    UserFactory(username="bob", accounts=[account])
    first, second = new_page(), new_page()
    sign_in(first, server_url, "alice", PASSWORD)
    sign_in(second, server_url, "bob", PASSWORD)
    second.evaluate("window.__marker = 1")

    first.locator(f"#session-{session.id} button.act-hold").click()

    expect(second.locator("dd[data-counter=on_hold]")).to_have_text("1", timeout=LIVE)
    row = second.locator(f"#session-{session.id}")
    expect(row.locator(".badge.call-hold")).to_have_text("Hold", timeout=LIVE)
    expect(row.locator(".hold-info")).to_contain_text("by alice")
    expect(row.locator("button.act-resume")).to_be_visible()
    assert second.evaluate("window.__marker") == 1, "the page was reloaded"


def test_hold_through_the_rest_api_appears_on_the_open_page(user, account, new_page, server_url):
    session = CallSessionFactory(account=account)
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    page.evaluate("window.__marker = 1")

    response = httpx.post(
        f"{server_url}/sessions/{session.id}/hold",
        json={"reason": "None"},
        auth=("alice", PASSWORD),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text

    expect(page.locator("dd[data-counter=on_hold]")).to_have_text("1", timeout=LIVE)
    expect(page.locator(f"#session-{session.id} .badge.call-hold")).to_have_text(
        "Hold", timeout=LIVE
    )
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def test_new_session_appears_as_one_new_row(user, account, new_page, server_url):
    CallSessionFactory(account=account)
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    page.evaluate("window.__marker = 1")

    session = services.session_start(
        call_sid=new_sid("CA"),
        actor=services.Actor(user=None, via=Via.PROVIDER),
        account_id=account.id,
        from_address="+15559990001",
        from_name="Grace Hopper",
        to_address="+15550001000",
    )

    row = page.locator(f"#session-{session.id}")
    expect(row.locator("a.caller")).to_have_text("Grace Hopper", timeout=LIVE)
    expect(row.locator(".badge.call-ringing")).to_have_text("Ringing")
    expect(page.locator("dd[data-counter=active]")).to_have_text("2", timeout=LIVE)
    expect(page.locator("dd[data-counter=ringing]")).to_have_text("1")
    # Nothing more is on its way to wait for: give a stray second copy the time to arrive.
    page.wait_for_timeout(500)
    expect(page.locator("tr[data-session-id]")).to_have_count(2)
    expect(row).to_have_count(1)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def test_session_ended_through_the_rest_api_disappears_and_only_it(
    user, account, new_page, server_url
):
    ending = CallSessionFactory(account=account, from_name="Ada Lovelace")
    staying = CallSessionFactory(account=account, from_name="Alan Turing")
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    response = httpx.delete(
        f"{server_url}/sessions/{ending.id}",
        auth=("alice", PASSWORD),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text

    expect(page.locator(f"#session-{ending.id}")).to_have_count(0, timeout=LIVE)
    expect(page.locator("dd[data-counter=active]")).to_have_text("1", timeout=LIVE)
    expect(page.locator(f"#session-{staying.id} a.caller")).to_have_text(
        "Alan Turing", timeout=LIVE
    )


def test_change_streamed_while_the_table_is_redrawn_is_not_lost(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account)
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    redraws = []
    page.route(re.compile(r"/\?.*channel=Voice"), lambda route: redraws.append(route), times=1)

    # A filter change redraws the table; the server renders it before the call is held ...
    page.select_option("#f-channel", "Voice")
    while not redraws:
        page.wait_for_timeout(20)
    redraw = redraws[0].fetch()
    # ... the hold's event reaches the page first and the row follows it ...
    services.session_hold(actor=services.Actor(user=user, via=Via.API), session_id=session.id)
    row = page.locator(f"#session-{session.id}")
    expect(row.locator(".badge.call-hold")).to_have_text("Hold", timeout=LIVE)
    # ... and then the redrawn table arrives.
    redraws[0].fulfill(response=redraw)
    expect(page).to_have_url(re.compile(r"[?&]channel=Voice(&|$)"))

    expect(row.locator(".badge.call-hold")).to_have_text("Hold", timeout=LIVE)
    expect(page.locator("dd[data-counter=on_hold]")).to_have_text("1", timeout=LIVE)


def test_lost_event_stream_is_shown_and_the_table_updates_by_polling(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account)
    page = new_page()
    page.route("**/live/events", lambda route: route.abort())
    sign_in(page, server_url, "alice", PASSWORD, live=False)

    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "lost", timeout=LIVE)
    expect(status).to_contain_text("Live updates lost")

    services.session_hold(actor=services.Actor(user=user, via=Via.API), session_id=session.id)
    # Polling every 5 s: the change is on screen within one period (and a little).
    expect(page.locator(f"#session-{session.id} .badge.call-hold")).to_have_text(
        "Hold", timeout=7000
    )
    expect(page.locator("dd[data-counter=on_hold]")).to_have_text("1")


def test_restored_event_stream_is_shown_and_streams_again(user, account, new_page, server_url):
    session = CallSessionFactory(account=account)
    page = new_page()
    page.route("**/live/events", lambda route: route.abort())
    sign_in(
        page, server_url, "alice", PASSWORD, next_path=f"/live/sessions/{session.id}", live=False
    )
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "lost", timeout=LIVE)

    page.unroute("**/live/events")

    # The browser retries the stream on its own every few seconds.
    expect(status).to_have_attribute("data-state", "live", timeout=7000)
    page.evaluate("window.__marker = 1")
    services.session_hold(actor=services.Actor(user=user, via=Via.API), session_id=session.id)
    expect(page.locator("#session-detail .badge.call-hold")).to_have_text("Hold", timeout=LIVE)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
