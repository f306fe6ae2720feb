"""Browser tests: the real ASGI server (uvicorn, in a subprocess, on the test database) driven
by Debian's headless Chromium through Playwright. Data is created in the test process with
`transactional_db`, so it is committed and the server sees it; events cross from one process
to the other through PostgreSQL LISTEN/NOTIFY, exactly as between production workers."""

import functools
import os
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, served  # noqa: F401 - ROOT for the screenshot tests

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _test_settings(settings, monkeypatch):
    """Replaces the suite's MD5 hasher: the server process checks passwords with the project's
    own hashers, so the test process must write hashes it accepts. One PBKDF2 hash of the
    shared test password is computed per process and reused, so users stay cheap to create."""
    from django.conf import global_settings
    from django.contrib.auth import base_user

    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    settings.SIMULATED_ANSWER_DELAY = -1  # invites made in this process never answer
    monkeypatch.setattr(base_user, "make_password", _make_password_once)


@functools.cache
def _make_password_once(raw_password):
    from django.contrib.auth.hashers import make_password

    return make_password(raw_password)


# Per module, not per session: the server's own threads (the provider inbox's retries) work on
# the test database, and must not outlive the browser tests into the tests that follow, whose
# checks (tests/test_properties.py: "a refused action changes nothing") they would disturb.
@pytest.fixture(scope="module")
def server_url(django_db_setup, django_db_blocker):
    """The app served by uvicorn on a free loopback port, against the test database."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    answer_delay = os.environ.get("BROWSER_ANSWER_DELAY", "1.5")
    with served(log_name="server.log", SIMULATED_ANSWER_DELAY=answer_delay) as url:
        yield url


# Per module, not per session: while Playwright's sync API is open its event loop runs in this
# thread, and the async tests that follow the browser tests could not run their own.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, which Django takes for an async
    # context and refuses ORM calls in. The test process only creates and checks data, so
    # that guard is lifted here (never for the server, whose async views must stay correct).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def new_page(browser, server_url):
    """Open a fresh browser context (its own cookies) and page; closed after the test.

    `new_page(java_script_enabled=False)` and other keyword arguments go to the context. Each
    page records `page.errors` (uncaught exceptions) and `page.console_errors` (console
    messages of type "error", but for the favicon the portal deliberately does not have).
    """
    contexts = []

    def open_page(width: int = 1400, height: int = 1000, **context_options):
        context = browser.new_context(
            viewport={"width": width, "height": height}, **context_options
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.console_errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda message: _record_console_error(page, message))
        return page

    yield open_page
    for context in contexts:
        context.close()


def _record_console_error(page, message) -> None:
    if message.type != "error":
        return
    location = message.location or {}
    where = f"{location.get('url', '')}:{location.get('lineNumber', '')}"
    if "favicon.ico" in where + message.text:
        return
    page.console_errors.append(f"{message.text} (at {where})")


@pytest.fixture
def account(transactional_db):
    """The signed-in user's account (committed: the server process must see it)."""
    from tests.factories import AccountFactory

    return AccountFactory(name="Acme")


@pytest.fixture
def user(account):
    from tests.factories import UserFactory

    return UserFactory(username="alice", accounts=[account])


def sign_in(
    page, server_url: str, username: str, password: str, next_path: str = "/", live: bool = True
):
    """Sign in through the login form (reached by visiting `next_path`); with `live`, wait
    until the page's event stream is open, so that changes made from now on are streamed."""
    page.goto(f"{server_url}{next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    if live:
        page.wait_for_selector("#live-status[data-state=live]")
    else:
        page.wait_for_load_state()


def wait_for_js(page, expression: str, timeout: float = 3000) -> None:
    """Wait until the JavaScript `expression` is truthy in `page`.

    `page.wait_for_function` polls with eval, which the portal's CSP forbids; `page.evaluate`
    is not subject to the page's CSP, so this polls with it instead.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} ms: {expression}")
        page.wait_for_timeout(50)
