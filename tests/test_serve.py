"""Stopping the server (`python -m portal.serve`) while pages are open.

A portal page keeps an event stream (`/live/events`) open for as long as it is shown. On SIGINT
(Ctrl-C) or SIGTERM the server must end that stream itself as soon as the signal arrives, so the
page sees a complete response and the process exits cleanly, SIGTERM as Ctrl-C does: rather than
waiting out uvicorn's graceful-shutdown period and then cancelling the stream, with an
`ERROR: Cancel 1 running task(s)` line and a traceback.
"""

import signal
import time

import httpx
import pytest
from django.conf import global_settings

from tests.conftest import artifacts, start_server
from tests.factories import PASSWORD, AccountFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# How long uvicorn lets open responses finish on shutdown before it cancels them (portal.serve).
GRACEFUL_SHUTDOWN_SECONDS = 3


def sign_in(http: httpx.Client) -> None:
    """Through the login page, as a browser does (its CSRF token, then the form)."""
    http.get("/accounts/login/")
    signed_in = http.post(
        "/accounts/login/",
        data={
            "username": "supervisor",
            "password": PASSWORD,
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
    )
    assert signed_in.status_code == 302, signed_in.text


@pytest.fixture
def supervisor(settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server's own hashers
    return UserFactory(username="supervisor", accounts=[AccountFactory()])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_open_event_streams_and_the_server_cleanly(supervisor, sig):
    log_name = f"serve-{sig.name}.log"
    process, url = start_server(log_name=log_name, LOG_LEVEL="INFO")
    try:
        with httpx.Client(base_url=url, timeout=GRACEFUL_SHUTDOWN_SECONDS + 10) as http:
            sign_in(http)
            with http.stream("GET", "/live/events") as stream:
                assert stream.status_code == 200
                chunks = stream.iter_text()
                assert "connected" in next(chunks)  # the stream is open and waiting for events

                process.send_signal(sig)
                signalled = time.monotonic()
                try:
                    for _ in chunks:
                        pass
                    ended = "complete"
                except httpx.RemoteProtocolError:
                    ended = "cut off"
                stream_open_for = time.monotonic() - signalled
        exit_code = process.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + 10)
        exited_after = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = (artifacts() / log_name).read_text()

    # The server ended the stream itself, on the signal: the page got the whole response rather
    # than having it cut off when uvicorn's graceful-shutdown period ran out.
    assert ended == "complete", f"the stream was {ended} after {stream_open_for:.1f} s:\n{output}"
    assert stream_open_for < GRACEFUL_SHUTDOWN_SECONDS / 2, (
        f"the stream stayed open {stream_open_for:.1f} s after {sig.name}: it ended only "
        f"towards the end of uvicorn's {GRACEFUL_SHUTDOWN_SECONDS} s graceful period\n{output}"
    )
    # So the server had nothing to wait for or cancel, and exited as on a clean Ctrl-C.
    assert exited_after < GRACEFUL_SHUTDOWN_SECONDS / 2, (
        f"the server exited {exited_after:.1f} s after {sig.name}: it waited for something to "
        f"end or be cancelled\n{output}"
    )
    assert exit_code == 0, output
    assert "Traceback" not in output
    assert "ERROR" not in output
    assert "Finished server process" in output
