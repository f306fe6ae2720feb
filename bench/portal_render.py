"""Benchmark: the portal's page with 500 active sessions against the API's JSON of the same
sessions, and the latency from a portal action to its live event, in one and two processes.

1. Page render: p50/p99 latency and size of the full page `GET /` and of the region htmx
   re-fetches (`HX-Request`, `HX-Target: sessions-region`), one worker, one request at a time.
   Baseline: the API's JSON of the same 500 sessions (`GET /portal/active-sessions`, as
   active_sessions.py), in alternating turns: page/JSON is what the HTML costs beyond the data.
   Then, in this process, the view's time split into context (queries, ORM) and template render,
   with query counts and GC pauses (`--profile` adds a cProfile).
2. Action -> event: with event streams `GET /live/events` open, hold and resume one session
   through the portal as htmx does and time each action to its `event: s-<id>` line on every
   stream (and to the row re-fetched after it). First on one server process; then on two
   (a second one-worker server on the same database, as `--workers 2` runs two processes):
   streams and actions alternate between them, so every action is delivered both within its
   process and across processes (through PostgreSQL NOTIFY), and the two are reported apart.

Whether events arrive, carry the right data and update the row is what tests/test_events.py and
tests/browser/test_live_updates.py prove; here an event missing for EVENT_WAIT fails the run.
"""

import os
import queue
import socket
import threading
import time

import active_sessions
import harness
import httpx
from harness import percentile_ms

SESSIONS = active_sessions.SESSIONS
REGION_HEADERS = {"HX-Request": "true", "HX-Target": "sessions-region"}
ROW_MARK = b'<tr id="session-'
EVENT_WAIT = 5.0  # seconds to wait for an event before failing the run
STREAM_OPEN_TIMEOUT = 15.0  # seconds for a stream to say `: connected`


def portal_sign_in(base_url: str) -> dict[str, str]:
    """The portal's login of the bench user (`harness.portal_sign_in`)."""
    return harness.portal_sign_in(base_url, active_sessions.USERNAME, active_sessions.PASSWORD)


def check_rows(response: httpx.Response) -> str | None:
    """The page or region is measured only if it shows every session."""
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    rows = response.content.count(ROW_MARK)
    return None if rows == SESSIONS else f"{rows} rows instead of {SESSIONS}"


def split_in_process(iterations: int, profile: bool) -> dict:
    """Call the page view in this process (no HTTP, middleware or session lookup) and split its
    time into building the context and rendering the template (the view's own `render`,
    wrapped), with the queries and GC pauses of each."""
    from django.test import RequestFactory
    from django_htmx.middleware import HtmxDetails

    from sessions_app import views
    from sessions_app.models import User

    user = User.objects.get(username=active_sessions.USERNAME)
    timer = harness.InProcess()
    original_render = views.render

    def timed_render(*args, **kwargs):
        with timer.phase("render"):
            return original_render(*args, **kwargs)

    def view(headers: dict[str, str]) -> None:
        request = RequestFactory().get("/", headers=headers)
        request.user = user
        request.htmx = HtmxDetails(request)
        with timer.phase("context"):
            response = views.active_sessions(request)
        if response.content.count(ROW_MARK) != SESSIONS:
            raise RuntimeError("in-process render: wrong number of rows")

    views.render = timed_render
    try:
        results = {
            name: timer.medians(lambda headers=headers: view(headers), iterations)
            for name, headers in (("page", {}), ("region", REGION_HEADERS))
        }
        if profile:
            harness.print_profile(lambda: view({}), iterations, "full-page views")
    finally:
        views.render = original_render
    for figures in results.values():
        figures["total"] = figures["context"] + figures["render"]
    print(f"\nIn-process split of the view (median of {iterations}, ms; no HTTP, no middleware):")
    harness.print_table(
        {"full page": results["page"], "region": results["region"]},
        [
            ("view total", "total"),
            ("context: queries + ORM objects", "context"),
            ("  of which in cursor.execute", "context_db"),
            ("  of which GC pauses", "context_gc"),
            ("  queries", "context_queries"),
            ("template render", "render"),
            ("  of which in cursor.execute", "render_db"),
            ("  of which GC pauses", "render_gc"),
            ("  queries issued by the template", "render_queries"),
        ],
    )
    return results


class EventStream:
    """One open `GET /live/events`, read in a thread; `arrivals` receives the time each
    `event: s-<session_id>` line arrives, then None when the stream ends."""

    def __init__(self, server: harness.Server, headers: dict[str, str], session_id: str):
        self.server = server
        self.arrivals: queue.Queue[float | None] = queue.Queue()
        self._line = f"event: s-{session_id}"
        self._connected = threading.Event()
        self._socket: socket.socket | None = None
        self._closing = False
        headers = {**headers, "Accept": "text/event-stream"}
        self._thread = threading.Thread(target=self._read, args=[headers], daemon=True)
        self._thread.start()
        if not self._connected.wait(STREAM_OPEN_TIMEOUT) or self._socket is None:
            self.close()
            raise RuntimeError(f"event stream on {server.name} did not open")

    def _read(self, headers: dict[str, str]) -> None:
        try:
            with (
                harness.http_client(headers) as client,
                client.stream("GET", f"{self.server.base_url}/live/events") as response,
            ):
                response.raise_for_status()
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                for line in response.iter_lines():
                    if line == self._line:
                        self.arrivals.put(time.perf_counter())
                    elif line == ": connected":
                        self._connected.set()
        except (httpx.HTTPError, OSError) as error:
            if not self._closing:
                print(f"event stream on {self.server.name}: {type(error).__name__}: {error}")
        finally:
            self._connected.set()
            self.arrivals.put(None)

    def close(self) -> None:
        """Shut the connection down under the reading thread (an open stream would hold the
        server's graceful shutdown), then join it."""
        self._closing = True
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)


def measure_events(servers: list[harness.Server], portal: dict, session_id: str, args) -> dict:
    """Open `args.streams` streams (one with one server), alternating between `servers`; then
    hold and resume `session_id` (Connected) `args.actions` times, a hold and a resume on each
    server in turn, each time waiting for the event on every stream and re-fetching the row."""
    times: dict[str, list[float]] = {"same": [], "crossed": [], "answered": [], "row": []}
    count = args.streams if len(servers) > 1 else 1
    streams: list[EventStream] = []
    clients = [harness.http_client({**portal, "HX-Request": "true"}) for _ in servers]
    try:
        for number in range(count):
            streams.append(EventStream(servers[number % len(servers)], portal, session_id))
        for number in range(args.actions):
            which = number // 2 % len(servers)  # each server holds and resumes in turn
            server, client, hold = servers[which], clients[which], number % 2 == 0
            url = f"{server.base_url}/live/sessions/{session_id}"
            headers = {"HX-Target": f"session-{session_id}"}
            for stream in streams:  # events of earlier actions that came in twice, if any
                while not stream.arrivals.empty():
                    stream.arrivals.get_nowait()
            sent = time.perf_counter()
            response = client.post(
                f"{url}/{'hold' if hold else 'resume'}",
                data={"reason": "None"} if hold else {},
                headers=headers,
            )
            times["answered"].append(time.perf_counter() - sent)
            response.raise_for_status()
            for stream in streams:
                try:
                    arrival = stream.arrivals.get(
                        timeout=max(0, sent + EVENT_WAIT - time.perf_counter())
                    )
                except queue.Empty:
                    arrival = None
                if arrival is None:
                    raise RuntimeError(
                        f"action {number + 1} on {server.name}: no event within {EVENT_WAIT}s "
                        f"on the stream on {stream.server.name}"
                    )
                times["same" if stream.server is server else "crossed"].append(arrival - sent)
            client.get(f"{url}/row").raise_for_status()  # what the page does on the event
            times["row"].append(time.perf_counter() - sent)
    finally:
        for stream in streams:
            stream.close()
        for client in clients:
            client.close()
    return {"workers": len(servers), "streams": count, "actions": args.actions, **times}


def print_events(runs: list[dict]) -> None:
    """The action -> event table: one block per run."""
    print(
        "\n2. Action -> event: portal hold/resume alternately on one session; time from sending "
        "the POST to its `event: s-<id>` line on each open stream. Events go through PostgreSQL "
        "NOTIFY even within one process; with 2 processes the events are split by whether the "
        "stream was on the process that handled the action (same) or not (crossed)."
    )
    print(f"{'':<30}{'events':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for run in runs:
        two = run["workers"] > 1
        label = f"{run['workers']} process{'es' * two}, {run['streams']} stream{'s' * two}, all"
        rows = [(label, "events")]
        if two:
            rows += [("  same process", "same"), ("  crossed processes", "crossed")]
        rows += [("  POST answered", "answered"), ("  event + row re-fetched", "row")]
        for label, key in rows:
            values = run["same"] + run["crossed"] if key == "events" else run[key]
            print(
                f"{label:<30}{len(values):>8}{percentile_ms(values, 50):>9.1f}"
                f"{percentile_ms(values, 99):>9.1f}{percentile_ms(values, 100):>9.1f}"
            )


def event_summary(run: dict) -> dict:
    """One run's figures for the results file."""
    return {
        "workers": run["workers"],
        "streams": run["streams"],
        "actions": run["actions"],
        **harness.latency_summary(run["same"] + run["crossed"]),
        **(
            {
                "same_process": harness.latency_summary(run["same"]),
                "crossed_processes": harness.latency_summary(run["crossed"]),
            }
            if run["workers"] > 1
            else {}
        ),
        "action_p50_ms": round(percentile_ms(run["answered"], 50), 2),
        "row_refetched_p50_ms": round(percentile_ms(run["row"], 50), 2),
    }


def main() -> int:
    parser = harness.parser(
        __doc__,
        f"An event has {EVENT_WAIT:g}s to arrive, a stream {STREAM_OPEN_TIMEOUT:g}s to open.",
    )
    add = parser.add_argument
    add("--requests", type=int, default=60, help="at most, per page endpoint (default 60)")
    add("--seconds", type=float, default=15.0, help="time cap per page endpoint (default 15)")
    add("--rounds", type=int, default=3, help="alternating turns (default 3)")
    add("--warmup", type=int, default=3, help="warm-up requests per endpoint (default 3)")
    add("--actions", type=int, default=50, help="hold/resume actions per run (default 50)")
    add("--streams", type=int, default=4, help="event streams with 2 processes (default 4)")
    add("--iterations", type=int, default=5, help="in-process view calls (default 5)")
    add("--profile", action="store_true", help="also cProfile the full-page view in-process")
    args = parser.parse_args()
    if min(args.requests, args.seconds, args.rounds, args.actions, args.iterations) <= 0:
        parser.error("the bounds must be positive")
    if args.streams < 2:
        parser.error("--streams must be at least 2: one on each process")
    harness.exit_cleanly_on_sigterm()

    url, database = harness.prepare_database()
    one_process_session, two_process_session = active_sessions.seed()[:2]
    load_before = os.getloadavg()[0]
    print(f"seeded {SESSIONS} active sessions (as active_sessions.py) in database {database}")
    split = split_in_process(args.iterations, args.profile)

    env = {**harness.django_env(url), "EVENTS_BACKEND": "postgres"}
    with harness.Server("A", "portal.asgi:application", env) as server:
        portal = portal_sign_in(server.base_url)
        page_url, json_url = f"{server.base_url}/", f"{server.base_url}{active_sessions.PATH}"
        api = harness.sign_in(server.base_url, active_sessions.USERNAME, active_sessions.PASSWORD)
        targets = [
            harness.Target("page", page_url, portal, check_rows),
            harness.Target("region", page_url, {**portal, **REGION_HEADERS}, check_rows),
            harness.Target("json", json_url, api, active_sessions.check_sessions),
        ]
        for target in targets:
            target.warm_up(args.warmup)
        page = harness.measure_in_rounds(
            targets,
            rounds=args.rounds,
            max_requests=args.requests,
            max_seconds=args.seconds,
            concurrency=1,
        )
        one = measure_events([server], portal, one_process_session, args)
        with harness.Server("B", "portal.asgi:application", env) as other:
            two = measure_events([server, other], portal, two_process_session, args)

    print(
        f"\n1. Page render, {SESSIONS} active sessions: one server worker, one request at a time, "
        f"up to {args.requests} requests or {args.seconds:g}s per endpoint in {args.rounds} "
        f"alternating turns after {args.warmup} warm-up requests each."
    )
    harness.print_figures(page, [("page", "json"), ("region", "json")])
    print_events([one, two])
    print(f"\n{harness.machine(load_before)}. {harness.NOISE}")
    harness.write_results(
        "portal_render",
        {
            "sessions": SESSIONS,
            "page": {name: m.summary() for name, m in page.items()},
            "page_over_json_p50": round(
                page["page"].latency_ms(50) / page["json"].latency_ms(50), 2
            ),
            "in_process_ms": split,
            "events": [event_summary(one), event_summary(two)],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
