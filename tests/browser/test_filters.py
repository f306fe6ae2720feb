"""Filtering the active-sessions table: in place, in the address bar, and shareable."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from sessions_app.models import CallState
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, CallSessionFactory


def filters_in(url: str) -> dict[str, str]:
    """The filters an address carries (empty parameters, as a plain form sends them, ignored)."""
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def three_calls(account):
    return {
        "connected": CallSessionFactory(account=account, from_name="Ada Lovelace"),
        "held": CallSessionFactory(
            account=account, call_state=CallState.HOLD, from_name="Grace Hopper"
        ),
        "ringing": CallSessionFactory(
            account=account, call_state=CallState.RINGING, from_name="Alan Turing"
        ),
    }


@pytest.fixture
def signed_in(user, three_calls, new_page, server_url):
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)
    expect(page.locator("tr[data-session-id]")).to_have_count(3)
    page.evaluate("window.__marker = 1")
    return page


def test_state_filter_narrows_the_table_without_reloading(signed_in, three_calls):
    page = signed_in

    page.select_option("#f-state", "Hold")

    expect(page).to_have_url(re.compile(r"[?&]state=Hold(&|$)"))
    assert filters_in(page.url) == {"state": "Hold"}
    expect(page.locator("tr[data-session-id]")).to_have_count(1)
    expect(page.locator(f"#session-{three_calls['held'].id}")).to_be_visible()
    expect(page.locator("dd[data-counter=active]")).to_have_text("1")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def test_search_narrows_the_table_without_reloading(signed_in, three_calls):
    page = signed_in

    page.fill("#f-q", "turing")

    expect(page).to_have_url(re.compile(r"[?&]q=turing(&|$)"))
    assert filters_in(page.url) == {"q": "turing"}
    expect(page.locator("tr[data-session-id]")).to_have_count(1)
    expect(page.locator(f"#session-{three_calls['ringing'].id} a.caller")).to_have_text(
        "Alan Turing"
    )
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def test_filtered_address_opened_elsewhere_shows_the_same_view(
    signed_in, three_calls, new_page, server_url
):
    page = signed_in
    page.select_option("#f-state", "Connected")
    page.fill("#f-q", "ada")
    expect(page).to_have_url(re.compile(r"[?&]q=ada(&|$)"))
    assert filters_in(page.url) == {"state": "Connected", "q": "ada"}
    shared = page.url.removeprefix(server_url)

    other = new_page()
    sign_in(other, server_url, "alice", PASSWORD, next_path=shared)

    expect(other).to_have_url(page.url)
    expect(other.locator("#f-state")).to_have_value("Connected")
    expect(other.locator("#f-q")).to_have_value("ada")
    expect(other.locator("tr[data-session-id]")).to_have_count(1)
    expect(other.locator(f"#session-{three_calls['connected'].id}")).to_be_visible()


def test_filter_matching_nothing_says_so(signed_in):
    page = signed_in

    page.fill("#f-q", "nobody-by-this-name")

    expect(page.locator("#sessions-region .empty")).to_contain_text(
        "No active calls match these filters"
    )
    expect(page.locator("tr[data-session-id]")).to_have_count(0)
    expect(page.locator("dd[data-counter=active]")).to_have_text("0")


def test_no_sessions_at_all_says_no_active_calls(user, new_page, server_url):
    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    expect(page.locator("#sessions-region .empty")).to_contain_text("No active calls right now")
    expect(page.locator("dd[data-counter=active]")).to_have_text("0")
