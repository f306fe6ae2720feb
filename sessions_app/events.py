"""Live notices of session changes, published by the services after commit.

A notice says only which session changed, how (created, changed or ended) and the sequence
number of the recorded event (`models.SessionEvent`); listeners read what they need.

Two backends, chosen by `settings.EVENTS_BACKEND`:
- "postgres": `pg_notify` on one channel, so a change handled by one server process reaches
  the listeners of every other process (each process runs one LISTEN connection);
- "local": an in-process fan-out, for the single-process SQLite demo.
Either way, in-process subscribers (the portal's event streams) are fed by `_dispatch`.

As soon as the server is told to stop, `portal.asgi` calls `close_streams()`: each open stream,
told through `on_close`, ends its response by itself.
"""

import json
import logging
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

CHANNEL = "session_events"


@dataclass(frozen=True)
class Notice:
    """A session changed: which one, in which account, how, and its event's number."""

    session_id: str
    account_id: str
    kind: str  # "created", "changed" or "ended"
    seq: int | None = None  # the recorded event's sequence number

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, payload: str) -> "Notice":
        return cls(**json.loads(payload))


_subscribers: set[Callable[[Notice], None]] = set()
_subscribers_lock = threading.Lock()


def subscribe(callback: Callable[[Notice], None]) -> Callable[[], None]:
    """Call `callback(notice)` for every notice this process hears; returns the unsubscribe."""
    with _subscribers_lock:
        _subscribers.add(callback)

    def unsubscribe():
        with _subscribers_lock:
            _subscribers.discard(callback)

    return unsubscribe


def dispatch(notice: Notice) -> None:
    """Hand a notice to this process's subscribers. Never raises: a bad listener is logged."""
    with _subscribers_lock:
        callbacks = list(_subscribers)
    for callback in callbacks:
        try:
            callback(notice)
        except Exception:  # a broken page stream must not break the writer
            logger.exception("session event subscriber failed")


def _send(notice: Notice) -> None:
    if settings.EVENTS_BACKEND == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, notice.to_json()])
    else:
        dispatch(notice)


def publish_on_commit(
    *, session_id: str, account_id: str, kind: str = "changed", seq: int | None = None
) -> None:
    """Publish once the current transaction commits; a rolled-back change is never heard."""
    notice = Notice(session_id=session_id, account_id=account_id, kind=kind, seq=seq)
    transaction.on_commit(lambda: _send(notice))


# --- shutdown: the open event streams end themselves when the server stops ------------------

_closing = False
_on_close: set[Callable[[], None]] = set()
_on_close_lock = threading.Lock()


def on_close(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback()` when this process's server starts shutting down (`close_streams`), or at
    once if it already has: an event stream then ends its response. Returns the cancel."""
    with _on_close_lock:
        closing = _closing
        if not closing:
            _on_close.add(callback)
    if closing:
        callback()

    def cancel():
        with _on_close_lock:
            _on_close.discard(callback)

    return cancel


def close_streams() -> None:
    """The server is shutting down: ask this process's open event streams to end now, so that
    the server finds them finished rather than having to cancel them. Not from a signal handler
    (it takes a lock the interrupted thread may hold): schedule it on the event loop instead."""
    global _closing
    with _on_close_lock:
        _closing = True
        callbacks = list(_on_close)
        _on_close.clear()
    for callback in callbacks:
        callback()


# --- the PostgreSQL listener: one LISTEN connection per process, started on first use --------

_listener_lock = threading.Lock()
_listener: threading.Thread | None = None
_wake_listener: socket.socket | None = None  # a byte written here wakes the thread to stop
_listening = threading.Event()
_stopping = threading.Event()


def _conninfo() -> str:
    from psycopg.conninfo import make_conninfo

    db = settings.DATABASES["default"]
    params = {
        "dbname": db.get("NAME"),
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None,
        "port": str(db["PORT"]) if db.get("PORT") else None,
    }
    return make_conninfo(**{k: v for k, v in params.items() if v})


def _listen_forever(wake: socket.socket) -> None:
    backoff = 0.5
    with wake:
        while not _stopping.is_set():
            try:
                _listen(wake)
                backoff = 0.5
            except Exception:
                logger.exception("session event listener lost its connection; reconnecting")
            _listening.clear()
            if not _stopping.wait(backoff):
                backoff = min(backoff * 2, 10)


def _listen(wake: socket.socket) -> None:
    """One LISTEN connection, until stop_listener() asks (it writes to `wake`)."""
    import psycopg

    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        _listening.set()
        while not _stopping.is_set():
            for notify in conn.notifies(timeout=0):  # those received so far, without waiting
                try:
                    dispatch(Notice.from_json(notify.payload))
                except (TypeError, ValueError):
                    logger.warning("ignoring malformed session event %r", notify.payload)
            # Sleep until the database sends something or stop_listener() wakes us.
            select.select([conn, wake], [], [])


def stop_listener() -> None:
    """Stop this process's LISTEN thread and close its connection (tests, shutdown); returns
    at once, as the thread wakes as soon as it is asked to stop."""
    global _listener, _wake_listener
    with _listener_lock:
        if _listener is not None:
            _stopping.set()
            _wake_listener.send(b"\0")
            _listener.join(timeout=5)
            _wake_listener.close()
            _listener = _wake_listener = None
            _stopping.clear()


def ensure_listener(timeout: float = 5.0) -> bool:
    """Start this process's LISTEN thread (postgres backend only) and wait until it listens.

    Idempotent. Returns False if it is not listening yet after `timeout` seconds (the event
    stream then still works once it is, and pages fall back to polling meanwhile).
    """
    global _listener, _wake_listener
    if settings.EVENTS_BACKEND != "postgres":
        return True
    with _listener_lock:
        if _listener is None or not _listener.is_alive():
            if _wake_listener is not None:
                _wake_listener.close()
            wake, _wake_listener = socket.socketpair()
            _listener = threading.Thread(
                target=_listen_forever, args=(wake,), name="session-events", daemon=True
            )
            _listener.start()
    return _listening.wait(timeout)
