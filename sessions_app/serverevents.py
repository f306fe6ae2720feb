"""The Server Events stream for API clients (`/event-stream`), below HTTP: what a stream sends
and how every open stream of this process is fed.

Exact resume rests on one fact of the event table: `SessionEvent.seq` is allocated and
committed in the same order (`services.unit`), so "every event after N" is a query, and a reader
that has seen N will never find a later-committed event below N.

One **feed** per process (`Feed`, a thread) keeps a position: the last event it has handed out.
Woken by the live notices (`events.subscribe`, the process's one LISTEN connection), and once a
second while any stream is open (in case a notice was lost), it loads every event after its
position once, with the resulting `SessionInfo` of each session once per batch, encodes each
message once, and gives the frames to the open streams whose scope holds the event's account.
A stream registers with the feed under its lock and gets the feed's position F back: every
event after F will reach its queue, so it replays from the database exactly the events after
the client's last id up to F, then drains its queue. Nothing is lost and nothing sent twice.

The same thread keeps the subscriptions (`models.EventSubscription`) honest once a second, with
one query for all of this process's streams: rows without a heartbeat for the idle timeout are
deleted (by any process), a stream whose row is gone ends, and a pulse recorded by another
process is answered on the stream with `cmd.onHeartbeat`.
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from . import events, selectors
from .eventlog import render_message
from .models import CallSession, EventSubscription, SessionEvent
from .services import subscriptions
from .wire import server_events as wire

logger = logging.getLogger(__name__)

BATCH = 500  # events per query, in the feed and in a replay
MAINTENANCE_SECONDS = 1.0  # how often the feed checks subscriptions and catches up
QUEUE_LIMIT = 2000  # frames a slow client may have waiting before its stream is ended
END = None  # in a stream's queue: end the response (the client reconnects and resumes)


# --- reads ---------------------------------------------------------------------------------------


def event_rows(
    *, after: int, upto: int | None = None, account_ids=None, limit: int = BATCH
) -> list[dict]:
    """Events with `after < seq <= upto`, in seq order, at most `limit`, of the accounts in
    `account_ids` (None: all), as dicts for `frames_for`."""
    queryset = SessionEvent.objects.filter(seq__gt=after)
    if upto is not None:
        queryset = queryset.filter(seq__lte=upto)
    if account_ids is not None:
        queryset = queryset.filter(session__account_id__in=list(account_ids))
    rows = list(
        queryset.order_by("seq")
        .annotate(account_id=F("session__account_id"), data_json=Cast("data", TextField()))
        .values(
            "seq",
            "session_id",
            "account_id",
            "kind",
            "data_json",
            "actor_id",
            "actor_name",
            "via",
            "date",
        )[:limit]
    )
    for row in rows:
        row["data"] = orjson.loads(row.pop("data_json"))
        row["message"] = render_message(row["kind"], row["data"], row["actor_name"], row["via"])
    return rows


def frames_for(rows: list[dict]) -> list[tuple[int, str, bytes]]:
    """(seq, account id, frame) of each event row: a `cmd.SessionEvent` on the account's
    channel, with the session as it is now (one `selectors.session_records` for the batch,
    each session's `SessionInfo` encoded once)."""
    if not rows:
        return []
    ids = {row["session_id"] for row in rows}
    records = selectors.session_records(CallSession.objects.filter(pk__in=ids))
    infos = {record["id"]: wire.session_info_json_value(record) for record in records}
    return [
        (
            row["seq"],
            row["account_id"],
            wire.frame(
                wire.SESSION_EVENT,
                wire.session_event_json_with_info(row, infos[row["session_id"]]),
                event_id=row["seq"],
                channel=row["account_id"],
            ),
        )
        for row in rows
        if row["session_id"] in infos  # a session deleted since (admin): nothing to show
    ]


@dataclass(frozen=True)
class ResumePlan:
    """Where a new stream starts: after `last_id` (replay what follows), or, when `reset`,
    with a reset and a snapshot because `reason` (the client is too far behind, or its id is
    not one of ours)."""

    last_id: int | None
    reset: bool = False
    reason: str = ""


def resume_plan(last_event_id: str | None) -> ResumePlan:
    """Read the client's last event id (`Last-Event-ID` or `?lastEventId=`). No id: a fresh
    stream. Replayed only if the first event the client missed is within the retention
    (`EVENT_STREAM_RETENTION_HOURS`); an id that is not a number, or that no event has reached
    yet, asks for a reset instead."""
    if last_event_id is None or last_event_id.strip() == "":
        return ResumePlan(last_id=None)
    text = last_event_id.strip()
    if not text.isdigit():
        return ResumePlan(None, reset=True, reason=f"'{text[:40]}' is not an event id")
    last_id = int(text)
    if last_id > selectors.latest_event_seq():
        return ResumePlan(None, reset=True, reason=f"Event {last_id} does not exist yet")
    first_missed = (
        SessionEvent.objects.filter(seq__gt=last_id).order_by("seq").values("date").first()
    )
    cutoff = timezone.now() - timedelta(hours=settings.EVENT_STREAM_RETENTION_HOURS)
    if first_missed is not None and first_missed["date"] < cutoff:
        hours = f"{settings.EVENT_STREAM_RETENTION_HOURS:g}"
        return ResumePlan(
            None,
            reset=True,
            reason=f"Event {last_id} is more than {hours} h behind: events are replayed for"
            f" {hours} h",
        )
    return ResumePlan(last_id=last_id)


def snapshot_frames(*, user, account_ids, position: int, reason: str) -> list[bytes]:
    """`cmd.onReset` (why) and `cmd.ActiveSessions` (the active sessions in scope, as
    `AppGetActiveSessions` answers them) with the id `position`: the client then resumes from
    there, and a disconnect before the snapshot arrived makes it reset again."""
    records = selectors.session_records_active_for(user=user)
    if account_ids is not None:
        records = [r for r in records if r["account_id"] in account_ids]
    return [
        wire.frame(wire.ON_RESET, {"reason": reason, "position": position}),
        wire.frame(wire.ACTIVE_SESSIONS, wire.active_sessions_json(records), event_id=position),
    ]


def subscribers_for(*, account_ids_visible, channel: str | None) -> list[dict]:
    """The subscriptions the asker may know of, as ServiceStack's subscriber Meta: those on
    `channel` (an account id, or "*") if given, else all. A user who sees some accounts sees
    the subscriptions scoped to one of them; administrators see every one."""
    rows = EventSubscription.objects.select_related("user").order_by("created_at")
    result = []
    for row in rows:
        scope = row.account_ids
        if account_ids_visible is not None and (
            scope is None or not set(scope) & set(account_ids_visible)
        ):
            continue
        if channel and channel not in row.channels.split(","):
            continue
        result.append(
            wire.subscriber_meta(
                user_id=row.user_id,
                display_name=row.user.get_full_name() or row.user.get_username(),
                channels=row.channels,
                created_at=row.created_at,
            )
        )
    return result


# --- the per-process feed -------------------------------------------------------------------------


@dataclass(eq=False)
class Stream:
    """One open `/event-stream` response of this process: its subscription, scope, and the
    asyncio queue its response reads (filled from the feed thread, through its loop)."""

    id: str
    account_ids: frozenset | None  # None: every account
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue
    heartbeat_body: dict
    last_pulse_at: datetime | None = None
    ended: bool = field(default=False)

    def wants(self, account_id: str) -> bool:
        """Whether an event of this account is in the stream's scope."""
        return self.account_ids is None or account_id in self.account_ids

    def offer(self, frames: list) -> None:
        """Hand frames to the response, from any thread; a client too slow to take them is
        ended instead (it reconnects with its last id and replays what it missed)."""
        try:
            self.loop.call_soon_threadsafe(self._put, frames)
        except RuntimeError:  # its event loop has closed: the server is gone, and the stream
            self.ended = True

    def _put(self, frames: list) -> None:
        if self.ended:
            return
        for item in frames:
            if item is END or self.queue.qsize() >= QUEUE_LIMIT:
                self.ended = True
                self.queue.put_nowait(END)
                return
            self.queue.put_nowait(item)


class Feed:
    """This process's one reader of new events for its streams (see the module's docstring)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._streams: dict[str, Stream] = {}
        self._position: int | None = None  # None while no stream is open
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._unsubscribe = None

    # called by the streams, on their threads

    def register(self, stream: Stream) -> int:
        """Add a stream; returns the position F: every event after F reaches its queue.
        Reads the database (the newest event) when it is the first stream."""
        self._start()
        with self._lock:
            if self._position is None:
                self._position = selectors.latest_event_seq()
            self._streams[stream.id] = stream
            return self._position

    def unregister(self, stream_id: str) -> None:
        """Forget a stream (its response has ended)."""
        with self._lock:
            self._streams.pop(stream_id, None)
            if not self._streams:
                self._position = None  # idle: no reading until a stream opens again

    def local(self, stream_id: str) -> Stream | None:
        """The stream of this process with that subscription id, if any."""
        with self._lock:
            return self._streams.get(stream_id)

    def wake(self) -> None:
        """New events may be there: load them now."""
        self._wake.set()

    # the thread

    def _request_stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="server-events-feed", daemon=True
            )
            self._thread.start()
            if self._unsubscribe is None:
                self._unsubscribe = events.subscribe(lambda notice: self._wake.set())
        # The server is stopping: the streams end through their own `events.on_close`; the
        # thread stops at its next wake, without making the event loop wait for it.
        events.on_close(self._request_stop)

    def _run(self) -> None:
        next_maintenance = 0.0
        while True:
            self._wake.wait(MAINTENANCE_SECONDS)
            self._wake.clear()
            with self._lock:
                if self._stopping:
                    break
                idle = not self._streams
            if idle:
                continue
            try:
                self._catch_up()
                if time.monotonic() >= next_maintenance:
                    next_maintenance = time.monotonic() + MAINTENANCE_SECONDS
                    self._maintain()
            except Exception:
                logger.exception("the server-events feed failed; retrying")
            finally:
                connection.close()  # back to the pool: an idle feed holds no connection

    def _catch_up(self) -> None:
        """Load and hand out every event after the position, batch by batch."""
        while True:
            with self._lock:
                start = self._position
            if start is None:
                return
            rows, frames = _read_batch(start)
            if not rows:
                return
            with self._lock:
                if self._position != start:  # every stream closed (and one opened) meanwhile
                    continue
                self._position = rows[-1]["seq"]
                streams = list(self._streams.values())
            # Streams registered from here on got the new position: they read these events
            # from the database, the ones above received them all through their queue.
            for stream in streams:
                mine = [f for _, account_id, f in frames if stream.wants(account_id)]
                if mine:
                    stream.offer(mine)
            if len(rows) < BATCH:
                return

    def _maintain(self) -> None:
        """Drop idle subscriptions (anyone's), end the streams whose row is gone, answer the
        heartbeats other processes recorded."""
        subscriptions.subscriptions_drop_idle(
            idle_timeout=settings.EVENT_STREAM_IDLE_TIMEOUT_SECONDS
        )
        with self._lock:
            streams = dict(self._streams)
        pulses = dict(
            EventSubscription.objects.filter(pk__in=list(streams)).values_list(
                "id", "last_pulse_at"
            )
        )
        for stream_id, stream in streams.items():
            pulse = pulses.get(stream_id)
            if pulse is None:
                stream.offer([END])
            elif stream.last_pulse_at is None or pulse > stream.last_pulse_at:
                stream.last_pulse_at = pulse
                stream.offer([wire.frame(wire.ON_HEARTBEAT, stream.heartbeat_body)])


def _read_batch(after: int) -> tuple[list[dict], list[tuple[int, str, bytes]]]:
    """The next events and their frames, read in one snapshot (REPEATABLE READ on PostgreSQL),
    so each session is exactly as it was after the batch's last event of it: no later change
    shows in it (earlier events of the same session in the batch show that state too)."""
    if connection.vendor != "postgresql":  # SQLite's transactions would take the write lock
        rows = event_rows(after=after)
        return rows, frames_for(rows)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        rows = event_rows(after=after)
        return rows, frames_for(rows)


feed = Feed()


def heartbeat_local(stream_id: str, pulse_at: datetime) -> None:
    """A heartbeat recorded by this process for a stream it holds: answer it at once."""
    stream = feed.local(stream_id)
    if stream is not None:
        stream.last_pulse_at = pulse_at
        stream.offer([wire.frame(wire.ON_HEARTBEAT, stream.heartbeat_body)])


def end_local(stream_id: str) -> None:
    """The subscription was unregistered through this process: end its stream now if it is
    here (another process's stream ends at its feed's next check)."""
    stream = feed.local(stream_id)
    if stream is not None:
        stream.offer([END])
