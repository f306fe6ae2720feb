"""Benchmark: the portal's active-sessions page with 500 sessions, and action -> live update.

What is measured, against the real server (uvicorn + Django, production settings, PostgreSQL
LISTEN/NOTIFY events), for a user with role User signed in through the portal's login form:

1. Page render: latency (p50/p99) and size of the full page `GET /` and of the region htmx
   re-fetches (`GET /` with `HX-Request: true`, `HX-Target: sessions-region`) with 500 active
   sessions, one server worker, one request at a time; and, as the reference, in the same run
   and alternating turns, the API's JSON of the same 500 sessions (`GET /portal/active-sessions`,
   see active_sessions.py), so the page/JSON ratio says what the HTML costs beyond the data.
   Then, in this process (no HTTP), how the view's time splits between building its context
   (queries and ORM) and rendering the template.
2. Action -> event: with the event stream `GET /live/events` open (read line by line in a
   thread), hold and resume one session alternately through the portal (`POST
   /live/sessions/<id>/hold|resume`, as htmx sends them), and time from sending each action to
   receiving its `event: s-<id>` line; also to having re-fetched the row as the page then does.
   Once with one server worker, once with two (`--workers 2`) and several streams: each action
   goes over a new connection, so either worker may handle it, and each stream's worker is
   found from /proc, so the report shows how many events crossed processes. Every event must
   reach every stream within 2 s, otherwise the script exits non-zero.

Run (creates and migrates the database if needed, reseeds its own rows, starts and stops the
servers): `.venv/bin/python bench/portal_render.py` (`--help` for the bounds, `--profile` to
also cProfile the page's template render in-process).
"""

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import re
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import active_sessions
import harness
import httpx
from harness import percentile_ms

SESSIONS = active_sessions.SESSIONS
USERNAME = active_sessions.USERNAME
PASSWORD = active_sessions.PASSWORD

PAGE_PATH = "/"
LOGIN_PATH = "/accounts/login/"
EVENTS_PATH = "/live/events"
JSON_PATH = active_sessions.PATH
REGION_HEADERS = {"HX-Request": "true", "HX-Target": "sessions-region"}
SESSION_COOKIE = "sessionid"  # Django's default names (portal/settings.py changes neither)
CSRF_COOKIE = "csrftoken"
ROW_MARK = b'<tr id="session-'

EVENT_DEADLINE = 2.0  # seconds: an event later than this after its action fails the run
EVENT_WAIT = 5.0  # seconds to wait for an event before counting it lost
MAX_STREAMS = 12  # with several workers: streams opened at most to reach every worker
MAX_LOST_ACTIONS = 3  # stop a run after this many actions with lost events (bounds its time)
STREAM_OPEN_TIMEOUT = 15.0  # seconds for a stream to say `: connected`
NOISE = (
    "Client, servers and PostgreSQL share this machine with other developers' test runs: "
    "absolute figures are noisy, the ratios less so."
)


# --- signing in through the portal ---------------------------------------------------------------


def portal_sign_in(base_url: str) -> dict[str, str]:
    """Sign in through the login form as a browser does; return the headers that carry the
    signed-in session (`Cookie`) and its CSRF token (`X-CSRFToken`, as base.html makes htmx send).

    The cookies are Secure (DEBUG is off), so httpx would not send them back over plain HTTP:
    like harness.sign_in, we send them as a header.
    """
    with harness.http_client() as client:
        form = client.get(f"{base_url}{LOGIN_PATH}")
        csrf = form.cookies.get(CSRF_COOKIE)
        field_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        if form.status_code != 200 or not csrf or not field_token:
            raise RuntimeError(f"login form: {form.status_code}, no CSRF token: {form.text[:300]}")
        response = client.post(
            f"{base_url}{LOGIN_PATH}",
            data={
                "csrfmiddlewaretoken": field_token[1],
                "username": USERNAME,
                "password": PASSWORD,
                "next": PAGE_PATH,
            },
            headers={"Cookie": f"{CSRF_COOKIE}={csrf}"},
        )
    session = response.cookies.get(SESSION_COOKIE)
    csrf = response.cookies.get(CSRF_COOKIE) or csrf  # rotated on sign-in
    if response.status_code != 302 or not session:
        raise RuntimeError(f"portal sign-in failed: {response.status_code} {response.text[:300]}")
    return {"Cookie": f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}", "X-CSRFToken": csrf}


# --- 1. page render ------------------------------------------------------------------------------


def check_page(response: httpx.Response) -> str | None:
    """A right full page: a 200 HTML document with one row per session."""
    problem = _check_rows(response)
    if problem is None and b"<html" not in response.content[:200]:
        return "not a full page"
    return problem


def check_region(response: httpx.Response) -> str | None:
    """A right region: a 200 fragment (no document around it) with one row per session."""
    problem = _check_rows(response)
    if problem is None and not response.content.lstrip().startswith(b"<section"):
        return f"not the region fragment: {response.text[:100]!r}"
    return problem


def _check_rows(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    rows = response.content.count(ROW_MARK)
    if rows != SESSIONS:
        return f"{rows} rows instead of {SESSIONS}"
    return None


def measure_page(
    server: harness.Server, portal: dict[str, str], args: argparse.Namespace
) -> dict[str, harness.Measurement]:
    targets = [
        harness.Target("page", f"{server.base_url}{PAGE_PATH}", portal, check_page),
        harness.Target(
            "region", f"{server.base_url}{PAGE_PATH}", {**portal, **REGION_HEADERS}, check_region
        ),
        harness.Target(
            "json",
            f"{server.base_url}{JSON_PATH}",
            harness.sign_in(server.base_url, USERNAME, PASSWORD),
            active_sessions.check_sessions,
        ),
    ]
    for target in targets:
        harness.warm_up(
            url=target.url, headers=target.headers, check=target.check, requests=args.warmup
        )
    return harness.measure_in_rounds(
        targets,
        rounds=args.rounds,
        max_requests=args.requests,
        max_seconds=args.seconds,
        concurrency=1,
    )


def print_page(measured: dict[str, harness.Measurement], args: argparse.Namespace) -> None:
    json_p50, json_p99 = measured["json"].latency_ms(50), measured["json"].latency_ms(99)
    print(
        f"\n1. Page render, {SESSIONS} active sessions: one server worker, one request at a "
        f"time, up to {args.requests} requests or {args.seconds:.0f}s per endpoint in "
        f"{args.rounds} alternating turns, after {args.warmup} warm-up requests each."
    )
    print(
        f"{'':<44}{'p50 ms':>9}{'p99 ms':>9}{'KiB':>8}{'requests':>10}"
        f"{'p50/JSON':>10}{'p99/JSON':>10}"
    )
    labels = {
        "page": f"full page       GET {PAGE_PATH}",
        "region": f"htmx region     GET {PAGE_PATH} (HX)",
        "json": f"API JSON (ref.) GET {JSON_PATH}",
    }
    for name, label in labels.items():
        m = measured[name]
        print(
            f"{label:<44}{m.latency_ms(50):>9.1f}{m.latency_ms(99):>9.1f}"
            f"{m.response_bytes / 1024:>8.0f}{m.requests:>10}"
            f"{m.latency_ms(50) / json_p50:>9.2f}x{m.latency_ms(99) / json_p99:>9.2f}x"
        )


def split_in_process(iterations: int, profile: bool) -> dict:
    """Call the page view in this process (no HTTP, no middleware) and split its time into
    building the context (queries and ORM objects) and rendering the template.

    The view's own `render` is wrapped to time it, so the split follows the view as written;
    database time is the time inside cursor.execute, by phase; GC time is the cyclic garbage
    collector's pauses, by phase. As portal/asgi.py does after startup, everything loaded so
    far is frozen out of the collector's reach first, so the pauses are the server's.
    """
    from django.db import connection
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from sessions_app import views
    from sessions_app.models import User

    user = User.objects.get(username=USERNAME)
    factory = RequestFactory()
    phase = ["context"]
    queries: dict[str, list[float]] = {"context": [], "render": []}
    render_seconds = [0.0]
    original_render = views.render
    gc_pauses: dict[str, list[float]] = {"context": [], "render": []}
    gc_started = [0.0]

    def on_gc(event: str, info: dict) -> None:
        if event == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses[phase[0]].append(time.perf_counter() - gc_started[0])

    def timed_execute(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries[phase[0]].append(time.perf_counter() - started)

    def timed_render(*args, **kwargs):
        phase[0] = "render"
        started = time.perf_counter()
        try:
            return original_render(*args, **kwargs)
        finally:
            render_seconds[0] = time.perf_counter() - started
            phase[0] = "context"

    def once(headers: dict[str, str]) -> dict[str, float]:
        request = factory.get(PAGE_PATH, headers=headers)
        request.user = user
        request.htmx = HtmxDetails(request)
        for values in (*queries.values(), *gc_pauses.values()):
            values.clear()
        started = time.perf_counter()
        response = views.active_sessions(request)
        total = time.perf_counter() - started
        if response.content.count(ROW_MARK) != SESSIONS:
            raise RuntimeError("in-process render: wrong number of rows")
        return {
            "total": total,
            "render": render_seconds[0],
            "context": total - render_seconds[0],
            "context_db": sum(queries["context"]),
            "context_queries": len(queries["context"]),
            "render_db": sum(queries["render"]),
            "render_queries": len(queries["render"]),
            "context_gc": sum(gc_pauses["context"]),
            "render_gc": sum(gc_pauses["render"]),
        }

    variants = {"page": {}, "region": REGION_HEADERS}
    results: dict[str, dict[str, float]] = {}
    gc.collect()
    gc.freeze()
    views.render = timed_render
    gc.callbacks.append(on_gc)
    try:
        with connection.execute_wrapper(timed_execute):
            for name, headers in variants.items():
                once(headers)  # warm: templates compiled and cached, connection open
                runs = [once(headers) for _ in range(iterations)]
                results[name] = {
                    key: statistics.median(run[key] for run in runs) for key in runs[0]
                }
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(iterations):
                    once({})
                profiler.disable()
    finally:
        gc.callbacks.remove(on_gc)
        views.render = original_render
        connection.close()

    print(
        f"\nIn-process split of the view (median of {iterations}, ms; view function called "
        "directly: no HTTP, no middleware, no session lookup):"
    )
    print(f"{'':<38}{'full page':>10}{'region':>10}")
    rows = [
        ("view total", "total", 1000),
        ("context: queries + ORM objects", "context", 1000),
        ("  of which in cursor.execute", "context_db", 1000),
        ("  of which GC pauses", "context_gc", 1000),
        ("  queries", "context_queries", 1),
        ("template render", "render", 1000),
        ("  of which in cursor.execute", "render_db", 1000),
        ("  of which GC pauses", "render_gc", 1000),
        ("  queries issued by the template", "render_queries", 1),
    ]
    for label, key, scale in rows:
        page, region = results["page"][key] * scale, results["region"][key] * scale
        if scale == 1:
            print(f"{label:<38}{page:>10.0f}{region:>10.0f}")
        else:
            print(f"{label:<38}{page:>10.1f}{region:>10.1f}")
    if profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(f"\ncProfile of {iterations} full-page views, top 20 by own time:")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
    return {
        name: {key: round(value * (1 if "queries" in key else 1000), 2) for key, value in r.items()}
        for name, r in results.items()
    }


# --- 2. action -> event --------------------------------------------------------------------------


class EventStream:
    """One open `GET /live/events`, read line by line in a thread of its own, recording when
    each `event: s-<session_id>` line arrives. Close it before stopping the server (an open
    stream would hold the server's graceful shutdown)."""

    def __init__(self, url: str, headers: dict[str, str], session_id: str):
        self._url = url
        self._client = harness.http_client({**headers, "Accept": "text/event-stream"})
        self._event_line = f"event: s-{session_id}"
        self._changed = threading.Condition()
        self._connected = threading.Event()
        self._closing = False
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self.arrivals: list[float] = []  # perf_counter() of each matching event line
        self.data: list[str] = []  # the data line that followed each
        self.client_port: int | None = None
        self.error: str | None = None

    def open(self) -> "EventStream":
        self._thread.start()
        if not self._connected.wait(STREAM_OPEN_TIMEOUT) or self.error:
            self.close()
            raise RuntimeError(f"event stream did not open: {self.error or 'timed out'}")
        return self

    def _read(self) -> None:
        try:
            with self._client.stream("GET", self._url) as response:
                if response.status_code != 200:
                    self.error = f"status {response.status_code}: {response.read()[:200]!r}"
                    return
                network = response.extensions.get("network_stream")
                if network is not None:
                    self._socket = network.get_extra_info("socket")
                    client_addr = network.get_extra_info("client_addr")
                    self.client_port = client_addr[1] if client_addr else None
                awaiting_data = False
                for line in response.iter_lines():
                    now = time.perf_counter()
                    if line == ": connected":
                        self._connected.set()
                    elif line == self._event_line:
                        with self._changed:
                            self.arrivals.append(now)
                            self._changed.notify_all()
                        awaiting_data = True
                    elif awaiting_data and line.startswith("data: "):
                        self.data.append(line.removeprefix("data: "))
                        awaiting_data = False
        except (httpx.HTTPError, OSError) as error:
            if not self._closing:
                self.error = f"{type(error).__name__}: {error}"
        finally:
            if not self._closing and self.error is None:
                self.error = "the server closed the stream"
            self._connected.set()
            with self._changed:
                self._changed.notify_all()

    def wait_for(self, count: int, deadline: float) -> float | None:
        """The arrival time of the `count`th matching event, or None if not in by `deadline`."""
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    len(self.arrivals) >= count
                    or self.error is not None
                    or time.perf_counter() >= deadline
                ),
                timeout=max(0.0, deadline - time.perf_counter()),
            )
            return self.arrivals[count - 1] if len(self.arrivals) >= count else None

    def close(self) -> None:
        """Shut the connection down under the reading thread (which wakes it), then join it."""
        self._closing = True
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._client.close()


def server_workers(server: harness.Server) -> dict[int, str]:
    """The server's worker processes as {pid: start time}: the server itself if it has one
    worker, else the supervisor's children started by multiprocessing's spawn."""
    if server.workers == 1:
        return {server.pid: ""}
    deadline = time.monotonic() + 10
    while True:
        workers = {
            pid: started
            for pid, started in harness.child_processes(server.pid).items()
            if b"spawn_main" in _cmdline(pid)
        }
        if len(workers) >= server.workers or time.monotonic() > deadline:
            return workers
        time.sleep(0.1)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def serving_worker(server_port: int, client_port: int | None, workers: dict[int, str]) -> int:
    """The pid of the server worker holding the server side of the loopback connection from
    `client_port` (found in /proc/net/tcp and the workers' /proc/<pid>/fd); 0 if not found."""
    if client_port is None:
        return 0
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            local, remote = columns[1], columns[2]
            if (
                int(local.rsplit(":", 1)[1], 16) == server_port
                and int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inode = columns[9]
                break
        if inode:
            break
    if not inode or inode == "0":
        return 0
    wanted = f"socket:[{inode}]"
    for pid in workers:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) == wanted:
                    return pid
            except OSError:
                continue
    return 0


@dataclass
class EventRun:
    workers: int
    actions: int = 0
    streams: int = 0
    stream_workers: list[int] = field(default_factory=list)  # pid per stream (0: unknown)
    action_workers: list[int] = field(default_factory=list)  # pid per action (0: unknown)
    latencies: list[float] = field(default_factory=list)  # seconds, per (action, stream) seen
    cross_worker: list[float] = field(default_factory=list)  # of which: handled elsewhere
    same_worker: list[float] = field(default_factory=list)  # of which: same worker
    arrived: int = 0  # (action, stream) pairs whose event arrived within EVENT_WAIT
    late: int = 0  # of which later than EVENT_DEADLINE
    action_seconds: list[float] = field(default_factory=list)  # POST sent -> answered
    row_seconds: list[float] = field(default_factory=list)  # POST sent -> row re-fetched
    data_kinds: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return self.actions * self.streams

    @property
    def ok(self) -> bool:
        return not self.problems and self.arrived == self.expected and self.late == 0


def measure_events(
    server: harness.Server,
    portal: dict[str, str],
    session_id: str,
    *,
    actions: int,
    streams: int,
) -> EventRun:
    """Open `streams` event streams, then `actions` times hold/resume `session_id` (which
    must be Connected) through the portal over a new connection each, waiting for its event on
    every stream before the next action; then re-fetch the row as the page would."""
    run = EventRun(workers=server.workers)
    workers = server_workers(server)
    opened: list[EventStream] = []
    action_headers = {**portal, "HX-Request": "true", "HX-Target": f"session-{session_id}"}
    row_url = f"{server.base_url}/live/sessions/{session_id}/row"
    lost_actions = 0
    try:
        # `streams` streams, then more (up to MAX_STREAMS) until every worker holds one, so
        # that both same-worker and cross-worker deliveries are exercised.
        while len(opened) < streams or (
            len(opened) < MAX_STREAMS and not set(workers) <= set(run.stream_workers)
        ):
            stream = EventStream(f"{server.base_url}{EVENTS_PATH}", portal, session_id).open()
            opened.append(stream)
            run.stream_workers.append(serving_worker(server.port, stream.client_port, workers))
        run.streams = len(opened)
        with harness.http_client(portal) as row_client:
            for index in range(actions):
                hold = index % 2 == 0
                verb = "hold" if hold else "resume"
                url = f"{server.base_url}/live/sessions/{session_id}/{verb}"
                seen = [len(stream.arrivals) for stream in opened]  # events so far, per stream
                with harness.http_client(action_headers) as client:  # a new connection
                    sent = time.perf_counter()
                    response = client.post(url, data={"reason": "None"} if hold else {})
                    run.action_seconds.append(time.perf_counter() - sent)
                    network = response.extensions.get("network_stream")
                    client_addr = network.get_extra_info("client_addr") if network else None
                    action_worker = serving_worker(
                        server.port, client_addr[1] if client_addr else None, workers
                    )
                run.action_workers.append(action_worker)
                problem = _action_problem(response)
                if problem:
                    run.problems.append(f"{verb} #{index + 1}: {problem}")
                    break
                run.actions += 1
                first_arrival, arrived_now = None, 0
                for stream, stream_worker, before in zip(
                    opened, run.stream_workers, seen, strict=True
                ):
                    arrival = stream.wait_for(before + 1, sent + EVENT_WAIT)
                    if arrival is None:
                        continue
                    latency = arrival - sent
                    arrived_now += 1
                    run.arrived += 1
                    run.late += latency > EVENT_DEADLINE
                    run.latencies.append(latency)
                    if action_worker and stream_worker:
                        same = action_worker == stream_worker
                        (run.same_worker if same else run.cross_worker).append(latency)
                    first_arrival = arrival if first_arrival is None else first_arrival
                if arrived_now < len(opened):
                    lost_actions += 1
                    if lost_actions >= MAX_LOST_ACTIONS:
                        run.problems.append(
                            f"stopped after {lost_actions} actions with lost events"
                        )
                        break
                if first_arrival is None:
                    continue
                row = row_client.get(row_url)  # what the page does on `sse:s-<id>`
                expected = b"call-hold" if hold else b"call-connected"
                if row.status_code != 200 or expected not in row.content:
                    run.problems.append(f"row after {verb} #{index + 1} lacks {expected!r}")
                    break
                run.row_seconds.append(time.perf_counter() - sent)
    finally:
        for stream in opened:
            stream.close()
    for number, stream in enumerate(opened, 1):
        run.data_kinds.update(stream.data)
        if stream.error:
            run.problems.append(f"stream {number}: {stream.error}")
    return run


def _action_problem(response: httpx.Response) -> str | None:
    """The action must succeed: a 200 row whose HX-Trigger flash is not an error."""
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    try:
        flash = json.loads(response.headers.get("HX-Trigger", "{}")).get("portal-flash", {})
    except ValueError:
        return f"unreadable HX-Trigger {response.headers.get('HX-Trigger')!r}"
    if flash.get("error"):
        return f"refused: {flash.get('message')}"
    return None


def print_events(runs: list[EventRun]) -> None:
    print(
        f"\n2. Action -> event: portal hold/resume alternately on one session, each over a new "
        f"connection; time from sending the POST to its `event: s-<id>` line on each open "
        f"stream (fail: lost, or later than {EVENT_DEADLINE:.0f}s). Events go through "
        "PostgreSQL NOTIFY even with one worker. `arrived` counts (action, stream) pairs; "
        "with 2 workers they are split by whether the action was handled by the stream's "
        "worker (same) or by the other one (another: the event crossed processes)."
    )
    print(
        f"{'':<26}{'arrived':>13}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'>' + format(EVENT_DEADLINE, '.0f') + 's':>5}"
    )
    for run in runs:
        name = (
            f"{run.workers} worker{'s' if run.workers > 1 else ''}, "
            f"{run.streams} stream{'s' if run.streams > 1 else ''}"
        )
        rows = [(name, run.latencies, f"{run.arrived}/{run.expected}")]
        if run.workers > 1:
            rows.append(("  action on another worker", run.cross_worker, len(run.cross_worker)))
            rows.append(("  action on same worker", run.same_worker, len(run.same_worker)))
        for label, values, count in rows:
            print(
                f"{label:<26}{count!s:>13}{percentile_ms(values, 50):>9.1f}"
                f"{percentile_ms(values, 99):>9.1f}{percentile_ms(values, 100):>9.1f}"
                + (f"{run.late:>5}" if label == name else "")
            )
        print(
            f"{'  POST answered':<26}{'':>13}{percentile_ms(run.action_seconds, 50):>9.1f}"
            f"{percentile_ms(run.action_seconds, 99):>9.1f}"
            f"{percentile_ms(run.action_seconds, 100):>9.1f}"
        )
        print(
            f"{'  event + row re-fetched':<26}{'':>13}{percentile_ms(run.row_seconds, 50):>9.1f}"
            f"{percentile_ms(run.row_seconds, 99):>9.1f}{percentile_ms(run.row_seconds, 100):>9.1f}"
        )
        if run.workers > 1:
            print(f"  {_worker_summary(run)}")
            both = run.cross_worker and run.same_worker
            print(
                "  both combinations (action on the stream's worker, and on another) exercised: "
                + ("yes" if both else "NO (not under our control; rerun to cover both)")
            )
        for problem in run.problems:
            print(f"  PROBLEM: {problem}")


def _worker_summary(run: EventRun) -> str:
    pids = sorted({pid for pid in run.stream_workers + run.action_workers if pid})
    names = {pid: f"w{number}" for number, pid in enumerate(pids, 1)}
    streams = ", ".join(names.get(pid, "?") for pid in run.stream_workers)
    counts = {names[pid]: run.action_workers.count(pid) for pid in pids}
    unknown = run.action_workers.count(0)
    return f"workers (from /proc): streams on [{streams}]; actions per worker {counts}" + (
        f", {unknown} unknown" if unknown else ""
    )


def event_summary(run: EventRun) -> dict:
    return {
        "workers": run.workers,
        "streams": run.streams,
        "actions": run.actions,
        "arrived": run.arrived,
        "expected": run.expected,
        "late": run.late,
        "p50_ms": round(percentile_ms(run.latencies, 50), 2),
        "p99_ms": round(percentile_ms(run.latencies, 99), 2),
        "max_ms": round(percentile_ms(run.latencies, 100), 2),
        "cross_worker_events": len(run.cross_worker),
        "same_worker_events": len(run.same_worker),
        "action_p50_ms": round(percentile_ms(run.action_seconds, 50), 2),
        "row_refetched_p50_ms": round(percentile_ms(run.row_seconds, 50), 2),
        "problems": run.problems,
    }


def connected_voice_sessions(count: int) -> list[str]:
    """Ids of `count` seeded sessions that can be held (Voice) and are Connected."""
    from django.db import connection

    from sessions_app.models import CallSession, CallState, Channel

    ids = list(
        CallSession.objects.filter(
            account_id=active_sessions.ACCOUNT_ID,
            channel=Channel.VOICE,
            call_state=CallState.CONNECTED,
            ended=False,
        )
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    connection.close()
    if len(ids) < count:
        raise RuntimeError(f"the seed has fewer than {count} connected voice sessions")
    return ids


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=60, help="page requests per endpoint (default 60)"
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="time cap per endpoint (default 15)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating turns (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up requests (default 3)")
    parser.add_argument(
        "--actions", type=int, default=50, help="hold/resume actions per run (default 50)"
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=4,
        help="event streams with 2 workers, more if needed to reach both (default 4)",
    )
    parser.add_argument(
        "--iterations", type=int, default=5, help="in-process view calls (default 5)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the full-page view in-process"
    )
    args = parser.parse_args()
    harness.exit_cleanly_on_sigterm()

    url, database = harness.prepare_database()
    started = time.perf_counter()
    active_sessions.seed()
    print(
        f"seeded {SESSIONS} active sessions (as active_sessions.py) in "
        f"{time.perf_counter() - started:.1f}s; database {database}; {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, load average "
        f"{os.getloadavg()[0]:.1f}\n{NOISE}"
    )
    one_worker_session, two_worker_session = connected_voice_sessions(2)
    split = split_in_process(args.iterations, args.profile)

    env = {**harness.django_env(url), "EVENTS_BACKEND": "postgres"}
    with harness.Server("portal", "portal.asgi:application", env) as server:
        portal = portal_sign_in(server.base_url)
        page = measure_page(server, portal, args)
        print_page(page, args)
        one = measure_events(server, portal, one_worker_session, actions=args.actions, streams=1)
    with harness.Server("portal x2", "portal.asgi:application", env, workers=2) as server:
        portal = portal_sign_in(server.base_url)
        two = measure_events(
            server, portal, two_worker_session, actions=args.actions, streams=args.streams
        )
    print_events([one, two])
    kinds = sorted(one.data_kinds | two.data_kinds)
    print(f"event data seen: {kinds}")
    print(f"load average after: {os.getloadavg()[0]:.1f}. {NOISE}")

    harness.write_results(
        "portal_render",
        {
            "sessions": SESSIONS,
            "page": {name: harness.summary(m) for name, m in page.items()},
            "page_over_json_p50": round(
                page["page"].latency_ms(50) / page["json"].latency_ms(50), 2
            ),
            "in_process_ms": split,
            "events": [event_summary(one), event_summary(two)],
        },
    )

    failed = [run for run in (one, two) if not run.ok]
    for run in failed:
        print(
            f"FAILED ({run.workers} worker(s)): {run.arrived}/{run.expected} events arrived, "
            f"{run.late} later than {EVENT_DEADLINE:.0f}s, {len(run.problems)} problem(s)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
