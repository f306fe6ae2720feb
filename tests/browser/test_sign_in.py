"""Signing in to the portal in a real browser."""

import re

from playwright.sync_api import expect

from tests.factories import PASSWORD, CallSessionFactory


def test_anonymous_visit_goes_to_sign_in_and_back_after_signing_in(user, new_page, server_url):
    page = new_page()
    page.goto(f"{server_url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))

    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    expect(page).to_have_url(f"{server_url}/")
    expect(page.locator("h1")).to_have_text("Live sessions")
    expect(page.locator(".who")).to_contain_text("alice")


def test_sign_in_returns_to_the_page_first_asked_for(user, account, new_page, server_url):
    session = CallSessionFactory(account=account, from_name="Ada Lovelace")
    page = new_page()
    page.goto(f"{server_url}/live/sessions/{session.id}")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))

    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")

    expect(page).to_have_url(f"{server_url}/live/sessions/{session.id}")
    expect(page.locator("#session-detail h1")).to_contain_text("Ada Lovelace")


def test_wrong_password_shows_an_error_and_stays_signed_out(user, new_page, server_url):
    page = new_page()
    page.goto(f"{server_url}/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")

    expect(page.get_by_role("alert")).to_have_text(
        "Your username and password didn't match. Please try again."
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.goto(f"{server_url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
