"""The portal's pages run under a strict Content-Security-Policy and break none of it."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, CallSessionFactory

# Recorded from before any page script runs; init scripts are not subject to the page's CSP.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name.lower()] = sources
    return parsed


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/live/sessions/{id}"])
def test_pages_forbid_inline_scripts(path, user, account, new_page, server_url):
    session = CallSessionFactory(account=account)
    page = new_page()
    if path != "/accounts/login/":
        sign_in(page, server_url, "alice", PASSWORD)

    response = page.goto(server_url + path.format(id=session.id))

    policy = directives(response.headers["content-security-policy"])
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src is not None, "no script-src nor default-src: scripts are unrestricted"
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    assert not [s for s in script_src if s.startswith(("'nonce-", "'sha"))], script_src


def test_portal_in_use_causes_no_csp_violation_nor_script_error(
    user, account, new_page, server_url
):
    session = CallSessionFactory(account=account)
    page = new_page()
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    sign_in(page, server_url, "alice", PASSWORD)

    # Use what runs script: a filter, the invite form, the detail page and its hold button.
    page.select_option("#f-channel", "Voice")
    expect(page).to_have_url(re.compile(r"[?&]channel=Voice(&|$)"))
    row = page.locator(f"#session-{session.id}")
    row.locator("details.invite summary").click()
    expect(row.locator("input[name=destination]")).to_be_visible()
    row.locator("details.invite summary").click()
    violations = page.evaluate("window.__cspViolations")
    page.goto(f"{server_url}/live/sessions/{session.id}")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    page.locator("#session-detail button.act-hold").click()
    expect(page.locator("#session-detail .badge.call-hold")).to_have_text("Hold")
    expect(page.locator("#flash")).to_have_text("Call put on hold.")
    violations += page.evaluate("window.__cspViolations")

    assert violations == []
    assert page.errors == []
    assert page.console_errors == []
