"""Session change events, published by the services after commit.

Two backends, chosen by `settings.EVENTS_BACKEND`:
- "postgres": `pg_notify` on one channel, so a change handled by one server process reaches
  the listeners of every other process (each process runs one LISTEN connection);
- "local": an in-process fan-out, for the single-process SQLite demo.
Either way, in-process subscribers (the portal's event streams) are fed by `_dispatch`.
"""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

CHANNEL = "session_events"


@dataclass(frozen=True)
class SessionEvent:
    session_id: str
    account_id: str
    kind: str  # "created", "changed" or "ended"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, payload: str) -> "SessionEvent":
        return cls(**json.loads(payload))


_subscribers: set[Callable[[SessionEvent], None]] = set()
_subscribers_lock = threading.Lock()


def subscribe(callback: Callable[[SessionEvent], None]) -> Callable[[], None]:
    """Call `callback(event)` for every event this process hears; returns the unsubscribe."""
    with _subscribers_lock:
        _subscribers.add(callback)

    def unsubscribe():
        with _subscribers_lock:
            _subscribers.discard(callback)

    return unsubscribe


def dispatch(event: SessionEvent) -> None:
    """Hand an event to this process's subscribers. Never raises: a bad listener is logged."""
    with _subscribers_lock:
        callbacks = list(_subscribers)
    for callback in callbacks:
        try:
            callback(event)
        except Exception:  # a broken page stream must not break the writer
            logger.exception("session event subscriber failed")


def _send(event: SessionEvent) -> None:
    if settings.EVENTS_BACKEND == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, event.to_json()])
    else:
        dispatch(event)


def publish_on_commit(*, session_id: str, account_id: str, kind: str = "changed") -> None:
    """Publish once the current transaction commits; a rolled-back change is never heard."""
    event = SessionEvent(session_id=session_id, account_id=account_id, kind=kind)
    transaction.on_commit(lambda: _send(event))
