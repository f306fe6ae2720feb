"""The API sessions page in a real browser: a user signed in to the API from a program sees
that session, revokes it in place (htmx, the content security policy in force), and the
program's token fails on its next request."""

import httpx
from playwright.sync_api import expect

from sessions_app.models import ApiAuthSession
from tests.browser.conftest import sign_in
from tests.conftest import artifacts
from tests.factories import PASSWORD


def test_a_user_revokes_an_api_session_and_its_token_fails(user, new_page, server_url):
    program = httpx.Client(base_url=server_url, headers={"User-Agent": "evo-program/7"})
    signed_in = program.post(
        "/auth/credentials", json={"userName": "alice", "password": PASSWORD}, timeout=10
    )
    assert signed_in.status_code == 200
    assert program.get("/auth", timeout=10).status_code == 200
    row = ApiAuthSession.objects.get()

    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD, next_path="/", live=False)
    page.get_by_role("link", name="API sessions").click()
    listed = page.locator(f"#api-session-{row.public_id}")
    expect(listed).to_contain_text("evo-program/7")
    expect(listed).to_contain_text("from 127.0.0.1")
    page.evaluate("window.__marker = 1")
    listed.get_by_role("button", name="Revoke").click()

    expect(listed.locator(".badge")).to_have_text("Revoked")
    expect(page.locator("#flash")).to_contain_text("Your API session from")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert program.get("/auth", timeout=10).status_code == 401
    page.screenshot(path=artifacts() / "api-sessions.png", full_page=True)
    assert page.errors == [] and page.console_errors == []
    program.close()
