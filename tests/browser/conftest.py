"""Browser tests: the real ASGI server (uvicorn, in a subprocess, on the test database) driven
by Debian's headless Chromium through Playwright. Data is created in the test process with
`transactional_db`, so it is committed and the server sees it; events cross from one process
to the other through PostgreSQL LISTEN/NOTIFY, exactly as between production workers."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

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
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def server_url(django_db_setup, django_db_blocker):
    """The app served by uvicorn on a free loopback port, against the test database."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "1",
        "EVENTS_BACKEND": "postgres",
        "SIMULATED_ANSWER_DELAY": os.environ.get("BROWSER_ANSWER_DELAY", "1.5"),
        "PORT": str(port),
        "LOG_LEVEL": "warning",
    }
    log = open(_artifacts() / "server.log", "w")  # noqa: SIM115 - closed with the server
    process = subprocess.Popen(
        [sys.executable, "-m", "portal.serve"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the server exited at start; see test-artifacts/server.log")
        try:
            httpx.get(url + "/accounts/login/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the server did not start within 30 s")
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def _artifacts() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, server_url):
    """Open a fresh browser context (its own cookies) and page; closed after the test."""
    contexts = []

    def open_page(width: int = 1400, height: int = 1000):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, server_url: str, username: str, password: str, next_path: str = "/"):
    page.goto(f"{server_url}{next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#live-status[data-state=live]")
