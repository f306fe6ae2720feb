"""The delivery worker: turns session events into signed HTTP requests.

One pass (`deliver_once`) queues the new events of every subscription that is behind, claims
the deliveries that are due and sends each with no transaction open (the pooled database
connection given back while it waits on the receiver), then records each attempt
(`services.py` has the three steps and why several workers may run at once). `make run` runs
the loop in a thread of the server process (`portal.serve`); production runs
`manage.py deliver_webhooks`, as many as wanted. The loop wakes as soon as the process hears
of a session event (`sessions_app.events`), and polls every `WEBHOOK_POLL_SECONDS` besides.

Requests follow the Standard Webhooks specification: signed headers, no redirects followed,
`WEBHOOK_TIMEOUT_SECONDS` per attempt, the target checked again before every attempt.
"""

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from sessions_app import events
from sessions_app.services.unit import release_connection

from . import payloads, services
from .targets import pinned_request, target_check

logger = logging.getLogger(__name__)

USER_AGENT = "EvoVoice-Webhooks/1"
CLAIM_LIMIT = 20
SENDERS = 4  # requests in flight at once per worker


def parse_retry_after(value: str | None) -> float | None:
    """A Retry-After header as seconds from now: delay-seconds or an HTTP date; None if
    absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


class _Deadline:
    """Ends an attempt `seconds` after it starts, however slowly the receiver answers:
    httpx's own timeouts are per step (one read may wait that long, and a receiver that drips a
    byte at a time would never meet them). Past the deadline the attempt's sockets, which the
    request's `trace` hands over as they connect, are shut down, waking the blocked read."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict) -> None:
        """httpcore's trace hook: keep the socket of every connection the attempt makes."""
        if event.endswith("connect_tcp.complete"):
            sock = info["return_value"].get_extra_info("socket")
            with self._lock:
                if self.expired:
                    _shut(sock)
                else:
                    self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def send(claimed: services.Claimed, client: httpx.Client) -> services.AttemptOutcome:
    """One attempt: check the target again, sign the body for now, POST it. Never raises:
    every failure is an outcome to record."""
    started = timezone.now()
    clock = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - clock) * 1000)

    target = target_check(claimed.url)
    if target.refusal:
        return services.AttemptOutcome(started, elapsed(), error=f"Not sent: {target.refusal}")
    url, host, extensions = pinned_request(claimed.url, target.address)
    headers = {
        **host,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **payloads.sign(
            secret=claimed.secret,
            message_id=claimed.message_id,
            timestamp=started,
            body=claimed.body,
        ),
    }
    timed_out = services.AttemptOutcome(
        started,
        0,
        error=f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS:g} s (timed out)",
    )
    deadline = _Deadline(settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        with (
            deadline,
            client.stream(
                "POST",
                url,
                content=claimed.body.encode(),
                headers=headers,
                extensions={**extensions, "trace": deadline.trace},
            ) as response,
        ):
            excerpt = _read_excerpt(response)
    except httpx.TimeoutException:
        return replace(timed_out, duration_ms=elapsed())
    except httpx.HTTPError as error:
        if deadline.expired:
            return replace(timed_out, duration_ms=elapsed())
        return services.AttemptOutcome(started, elapsed(), error=f"{type(error).__name__}: {error}")
    if deadline.expired:  # cut off while reading the body: what came is not an answer
        return replace(timed_out, duration_ms=elapsed())
    return services.AttemptOutcome(
        started,
        elapsed(),
        status=response.status_code,
        excerpt=excerpt,
        error="" if response.is_success else f"The receiver answered {response.status_code}",
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def _read_excerpt(response: httpx.Response) -> str:
    """The start of the answer's body: what is recorded. The rest is never read, so a
    receiver answering with a huge body costs nothing."""
    limit = services.EXCERPT_LENGTH * 4  # bytes enough for EXCERPT_LENGTH characters
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode(response.encoding or "utf-8", errors="replace")[
        : services.EXCERPT_LENGTH
    ]


def http_client() -> httpx.Client:
    """The worker's HTTP client: no redirects, no proxies from the environment, the timeout
    of the specification."""
    return httpx.Client(
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        # A new connection per attempt: the deadline of an attempt (`_Deadline`) holds the
        # sockets it connects, and a receiver's kept-alive one would escape it.
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def deliver_once(client: httpx.Client | None = None) -> int:
    """One pass: queue new events, then send what is due (in parallel, at most `SENDERS` at a
    time, never two of one session). Returns how many attempts were made."""
    for webhook_id in services.subscriptions_behind():
        services.deliveries_queue(webhook_id)
    claimed = services.deliveries_claim(limit=CLAIM_LIMIT)
    if not claimed:
        return 0
    release_connection()
    own_client = client is None
    client = client or http_client()
    try:
        if len(claimed) == 1:
            outcomes = [send(claimed[0], client)]
        else:
            with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                outcomes = list(pool.map(lambda c: send(c, client), claimed))
    finally:
        if own_client:
            client.close()
    for item, outcome in zip(claimed, outcomes, strict=True):
        services.delivery_record(item, outcome)
    return len(claimed)


STOP_CHECK_SECONDS = 0.2


def _sleep(wake: threading.Event, stop: threading.Event, seconds: float) -> None:
    """Sleep until `wake` (a session event), `stop` (seen within `STOP_CHECK_SECONDS`, so the
    server stops promptly) or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or wake.wait(min(left, STOP_CHECK_SECONDS)):
            return


def deliver_forever(stop: threading.Event, interval: float | None = None) -> None:
    """Deliver until `stop` is set: a pass whenever a session event is heard, a delivery
    falls due, or `interval` (`WEBHOOK_POLL_SECONDS`) has passed. A server thread, or
    `manage.py deliver_webhooks`."""
    interval = settings.WEBHOOK_POLL_SECONDS if interval is None else interval
    wake = threading.Event()

    def on_notice(_notice) -> None:
        wake.set()

    unsubscribe = events.subscribe(on_notice)
    try:
        events.ensure_listener(timeout=1.0)  # the LISTEN thread (PostgreSQL) feeds `wake`
    except Exception:
        logger.exception("webhook worker: no live notices; polling only")
    try:
        with http_client() as client:
            while not stop.is_set():
                close_old_connections()
                wake.clear()
                try:
                    if deliver_once(client):
                        continue  # more may be due at once
                    due_in = services.next_due_in()
                except Exception:
                    logger.exception("delivering webhooks failed; trying again in %g s", interval)
                    release_connection()
                    stop.wait(interval)  # not woken by notices: a failing pass is not retried
                    continue  # at the pace of the session events
                release_connection()
                pause = interval if due_in is None else min(interval, due_in)
                _sleep(wake, stop, max(pause, 0.01))
    finally:
        unsubscribe()
        close_old_connections()
