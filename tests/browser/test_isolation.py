"""A user sees the calls of their own accounts only, on the page and on the event stream."""

from playwright.sync_api import expect

from sessions_app import services
from sessions_app.models import Via
from sessions_app.telephony.simulated import new_sid
from tests.browser.conftest import sign_in, wait_for_js
from tests.factories import PASSWORD, AccountFactory, CallSessionFactory

LIVE = 3000  # ms


# What the page hears on its event stream: the session id of every list event it handles.
RECORD_STREAMED_IDS = """
window.__streamed = [];
document.addEventListener("htmx:sseMessage", (event) => window.__streamed.push(event.detail.data));
"""


def test_user_never_sees_another_accounts_call(user, account, new_page, server_url):
    other = AccountFactory(name="Globex")
    own = CallSessionFactory(account=account, from_name="Ada Lovelace")
    foreign = CallSessionFactory(account=other, from_name="Hank Scorpio")
    page = new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in(page, server_url, "alice", PASSWORD)
    page.evaluate(RECORD_STREAMED_IDS)

    expect(page.locator("tr[data-session-id]")).to_have_count(1)
    expect(page.locator(f"#session-{own.id}")).to_be_visible()
    expect(page.get_by_text("Hank Scorpio")).to_have_count(0)
    expect(page.locator("dd[data-counter=active]")).to_have_text("1")

    # The other account's call changes, and a new call arrives there.
    provider = services.Actor(user=None, via=Via.PROVIDER)
    services.session_hold(actor=provider, session_id=foreign.id)
    arrived = services.session_start(
        call_sid=new_sid("CA"),
        actor=provider,
        account_id=other.id,
        from_address="+15558880001",
        to_address="+15558880000",
    )
    # Then a change in alice's account: once the page has heard of it, it has heard anything
    # streamed before it too (events are streamed in commit order).
    services.session_hold(actor=provider, session_id=own.id)
    wait_for_js(page, f"window.__streamed.includes({own.id!r})", timeout=LIVE)

    streamed = page.evaluate("window.__streamed")
    assert foreign.id not in streamed
    assert arrived.id not in streamed
    assert not [url for url in requested if foreign.id in url or arrived.id in url]
    expect(page.get_by_text("Hank Scorpio")).to_have_count(0)
    expect(page.get_by_text("+15558880001")).to_have_count(0)


def test_another_accounts_session_detail_is_not_found(user, account, new_page, server_url):
    foreign = CallSessionFactory(account=AccountFactory(name="Globex"), from_name="Hank Scorpio")
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    response = page.goto(f"{server_url}/live/sessions/{foreign.id}")

    assert response.status == 404
    expect(page.get_by_text("Hank Scorpio")).to_have_count(0)
    # The same answer as for a session that does not exist at all.
    assert page.goto(f"{server_url}/live/sessions/{'0' * 24}").status == 404
