"""Benchmark: the Server Events stream (`/event-stream`) with 200 connected clients, on one and
on two server processes, against the portal's `/live/events` stream measured in the same run.

For each server (one process; two with WEB_CONCURRENCY=2, the events crossing them through
PostgreSQL), 200 streaming clients connect (asyncio, one socket each), then writer threads
change sessions' console data through the API (`PATCH /sessions/{id}?consoleData=`), each
session written by one writer, one write at a time. Two phases per server: "paced" (--rate
writes/s in all) gives the time from sending the write to its delivery at each client (p50,
p99; also from the write's answer, which leaves the write's own time out); "flat out" (writers
as fast as the server answers) gives the events per second that reach all 200 clients. A
delivery is matched to its write by session and order: the k-th message about session S at a
client is the k-th write of S.

Baseline: `/live/events`, the portal's stream, which sends only a notice per change (the
session's id) and leaves reading it to the page: ours sends each event with its data and the
whole resulting SessionInfo (a few KiB). Both run on the same servers, in alternating turns.
The bench's clients do not heartbeat: the servers' idle timeout is raised for the run.
"""

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import harness
import httpx
from portal_render import portal_sign_in

CLIENTS = 200
SESSIONS = 24
WRITERS = 6
RATE = 20.0  # writes per second in the paced phase
SECONDS = 8.0  # per phase
DRAIN_SECONDS = 20.0  # for the last deliveries after the writers stop
CONNECT_TIMEOUT = 60.0  # for all clients to be connected

ACCOUNT_ID = "bench-sse-account"
USERNAME = "bench-sse-user"
PASSWORD = "bench-sse-password"
OURS, BASELINE = "event-stream", "live-events"
_SESSION_ID = re.compile(rb'"sessionId":"([^"]+)"')


def session_ids(count: int) -> list[str]:
    """The bench's session ids."""
    return [f"bench-sse-{index:04d}" for index in range(count)]


def seed(sessions: int) -> None:
    """Replace the bench rows: an account, its user, `sessions` connected voice calls."""
    from django.db import transaction

    from sessions_app import models as m

    with transaction.atomic():
        account, _ = harness.seed_account(ACCOUNT_ID, "Bench Server Events", USERNAME, PASSWORD)
        m.CallSession.objects.bulk_create(
            m.CallSession(
                id=sid,
                account=account,
                dial_state=m.DialState.ACTIVE,
                call_state=m.CallState.CONNECTED,
                channel=m.Channel.VOICE,
                direction=m.Direction.INCOMING,
                from_address=f"+1555{index:07d}",
                to_address="+15550002222",
            )
            for index, sid in enumerate(session_ids(sessions))
        )


class ServeProcess:
    """`python -m portal.serve` with `workers` processes on a free loopback port, as
    production runs it (a context manager; SIGTERM, then SIGKILL, on exit)."""

    def __init__(self, url: str, workers: int):
        import socket

        with socket.socket() as sock:
            sock.bind((harness.HOST, 0))
            self.port = sock.getsockname()[1]
        self.base_url = f"http://{harness.HOST}:{self.port}"
        self.workers = workers
        self._env = harness.django_env(url) | {
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "EVENTS_BACKEND": "postgres",
            "EVENT_STREAM_IDLE_TIMEOUT_SECONDS": "3600",
        }
        self._process = None

    def __enter__(self) -> "ServeProcess":
        self._process = subprocess.Popen(
            [sys.executable, "-m", "portal.serve"],
            cwd=harness.ROOT,
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + harness.SERVER_START_TIMEOUT
        with harness.http_client() as client:
            while True:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError("the server did not start")
                try:
                    client.get(f"{self.base_url}/accounts/login/", timeout=2.0)
                    return self
                except httpx.TransportError:
                    time.sleep(0.2)

    def __exit__(self, *exc_info) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(harness.SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@dataclass
class Deliveries:
    """What the clients received: per client, per session, how many; each delivery as
    (session id, its index among that session's writes, when), matched to the writes once they
    are all done (a delivery may come before its write's answer)."""

    counts: list[dict[str, int]] = field(default_factory=list)
    received: list[tuple[str, int, float]] = field(default_factory=list)
    total: int = 0
    last_at: float = 0.0

    def record(self, client: int, session_id: str, now: float) -> None:
        """One message about `session_id` reached `client` at `now`."""
        index = self.counts[client][session_id]
        self.counts[client][session_id] = index + 1
        self.received.append((session_id, index, now))
        self.total += 1
        self.last_at = now

    def latencies(self, times: dict[str, list[float]]) -> list[float]:
        """Each delivery's time since its write's entry in `times` (sent, or answered)."""
        return [
            now - times[session_id][index]
            for session_id, index, now in self.received
            if index < len(times.get(session_id, ()))
        ]


async def _stream_client(base_url, kind, headers, number, deliveries, connected, stop):
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 20)
    path = "/event-stream" if kind == OURS else "/live/events"
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    # HTTP/1.0: the body comes unchunked, one SSE line per line.
    writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n{head}\r\n".encode())
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"{kind} stream refused: {status!r}")
    while (await reader.readline()).strip():
        pass
    connected.release()
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                return
            if kind == OURS:
                if line.startswith(b"data: ") and b"@cmd.SessionEvent " in line[:80]:
                    found = _SESSION_ID.search(line, 0, 200)
                    deliveries.record(number, found[1].decode(), time.monotonic())
            elif line.startswith(b"event: s-"):
                deliveries.record(number, line[9:].strip().decode(), time.monotonic())
    finally:
        writer.close()


def _run_clients(base_url, kind, headers, clients, deliveries, ready, stop, loop_box):
    async def main():
        connected = asyncio.Semaphore(0)
        stop_event = asyncio.Event()
        loop_box.append((asyncio.get_running_loop(), stop_event))
        tasks = []
        for number in range(clients):
            tasks.append(
                asyncio.create_task(
                    _stream_client(
                        base_url, kind, headers, number, deliveries, connected, stop_event
                    )
                )
            )
            if number % 20 == 19:
                await asyncio.sleep(0.05)  # do not stampede the accept queue
        for _ in range(clients):
            await connected.acquire()
        ready.set()
        await stop_event.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def _write(base_url, headers, sessions, sent, answered, rate_per_writer, until, errors, counter):
    with harness.http_client(headers) as client:
        index = 0
        next_at = time.monotonic()
        while time.monotonic() < until:
            if rate_per_writer:
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_at += 1 / rate_per_writer
            session_id = sessions[index % len(sessions)]
            index += 1
            sent[session_id].append(time.monotonic())
            # A value never written before: an unchanged one records no event.
            value = f"w{time.time_ns()}"
            response = client.patch(f"{base_url}/sessions/{session_id}?consoleData={value}")
            answered[session_id].append(time.monotonic())
            if response.status_code != 200:
                errors.append(f"{response.status_code} {response.text[:200]}")
                return
            counter.append(1)


def phase(server, kind, headers, api_headers, args, *, paced: bool) -> dict:
    """Connect the clients, write for --seconds (paced or flat out), wait for the deliveries;
    the figures."""
    sent: dict[str, list[float]] = defaultdict(list)
    answered: dict[str, list[float]] = defaultdict(list)
    counts = [defaultdict(int) for _ in range(args.clients)]
    deliveries = Deliveries(counts=counts)
    ready, stop, loop_box = threading.Event(), threading.Event(), []
    clients = threading.Thread(
        target=_run_clients,
        args=(server.base_url, kind, headers, args.clients, deliveries, ready, stop, loop_box),
        daemon=True,
    )
    clients.start()
    if not ready.wait(CONNECT_TIMEOUT):
        raise RuntimeError(f"{args.clients} {kind} clients did not connect in time")
    time.sleep(0.5)
    ids = session_ids(args.sessions)
    shares = [ids[w :: args.writers] for w in range(args.writers)]
    errors, written = [], []
    started = time.monotonic()
    until = started + args.seconds
    rate = args.rate / args.writers if paced else 0
    writers = [
        threading.Thread(
            target=_write,
            args=(
                server.base_url,
                api_headers,
                share,
                sent,
                answered,
                rate,
                until,
                errors,
                written,
            ),
        )
        for share in shares
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    writes_done = time.monotonic()
    expected = len(written) * args.clients
    deadline = time.monotonic() + DRAIN_SECONDS
    while deliveries.total < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    loop, stop_event = loop_box[0]
    loop.call_soon_threadsafe(stop_event.set)
    clients.join(10)
    if errors:
        raise RuntimeError(f"a write failed: {errors[0]}")
    window = max(deliveries.last_at, writes_done) - started
    since_sent, since_answer = deliveries.latencies(sent), deliveries.latencies(answered)
    return {
        "writes": len(written),
        "writes_per_second": round(len(written) / (writes_done - started), 1),
        "deliveries": deliveries.total,
        "lost": expected - deliveries.total,
        "deliveries_per_second": round(deliveries.total / window, 1),
        "events_per_second_to_all": round(deliveries.total / args.clients / window, 1),
        "p50_ms": round(harness.percentile_ms(since_sent, 50), 1),
        "p99_ms": round(harness.percentile_ms(since_sent, 99), 1),
        # Negative: delivered before the write's answer reached its client.
        "after_answer_p50_ms": round(harness.percentile_ms(since_answer, 50), 1),
        "after_answer_p99_ms": round(harness.percentile_ms(since_answer, 99), 1),
    }


def main() -> int:
    parser = harness.parser(
        __doc__,
        "Each phase writes for --seconds and waits at most "
        f"{DRAIN_SECONDS:g}s for the last deliveries; the run takes about 3 minutes.",
    )
    add = parser.add_argument
    add("--clients", type=int, default=CLIENTS, help=f"streaming clients (default {CLIENTS})")
    add("--sessions", type=int, default=SESSIONS, help=f"sessions written (default {SESSIONS})")
    add("--writers", type=int, default=WRITERS, help=f"writer threads (default {WRITERS})")
    add("--rate", type=float, default=RATE, help=f"paced writes/s in all (default {RATE:g})")
    add("--seconds", type=float, default=SECONDS, help=f"per phase (default {SECONDS:g})")
    add("--rounds", type=int, default=1, help="alternating turns per stream (default 1)")
    args = parser.parse_args()
    if min(args.clients, args.sessions, args.writers, args.rate, args.seconds, args.rounds) <= 0:
        parser.error("every count must be positive")
    if args.sessions < args.writers:
        parser.error("--sessions must be at least --writers: no session is shared")
    harness.exit_cleanly_on_sigterm()
    url, database = harness.prepare_database()
    seed(args.sessions)
    load_before = os.getloadavg()[0]
    results: dict[str, dict] = {}
    for workers in (1, 2):
        with ServeProcess(url, workers) as server:
            api_headers = harness.sign_in(server.base_url, USERNAME, PASSWORD)
            stream_headers = {
                OURS: {"Cookie": api_headers["Cookie"]},
                BASELINE: {"Cookie": portal_sign_in_as(server.base_url)["Cookie"]},
            }
            for _ in range(args.rounds):
                for kind in (BASELINE, OURS):
                    for paced in (True, False):
                        name = f"{kind} {workers}p {'paced' if paced else 'flat out'}"
                        figures = phase(
                            server, kind, stream_headers[kind], api_headers, args, paced=paced
                        )
                        results.setdefault(name, figures)  # first round kept; see --rounds
                        print(f"{name}: {figures}", flush=True)
    report(results, args, database, load_before)
    return 0


def portal_sign_in_as(base_url: str) -> dict[str, str]:
    """The portal's login for the bench user (portal_render's helper, with this bench's
    credentials)."""
    import active_sessions

    saved = active_sessions.USERNAME, active_sessions.PASSWORD
    active_sessions.USERNAME, active_sessions.PASSWORD = USERNAME, PASSWORD
    try:
        return portal_sign_in(base_url)
    finally:
        active_sessions.USERNAME, active_sessions.PASSWORD = saved


def report(results: dict, args, database: str, load_before: float) -> None:
    """The table, the ratios and the results file."""
    print(
        f"\nServer Events: {args.clients} streaming clients, {args.sessions} sessions in database "
        f"{database} written by {args.writers} threads through the API, {args.seconds:g}s per "
        f"phase; paced = {args.rate:g} writes/s. baseline = /live/events (a notice of the "
        f"session id per change) on the same servers.\n{harness.machine(load_before)}. "
        f"{harness.NOISE}"
    )
    columns = {}
    for workers in (1, 2):
        for kind in (BASELINE, OURS):
            paced = results[f"{kind} {workers}p paced"]
            flat = results[f"{kind} {workers}p flat out"]
            columns[f"{'ours' if kind == OURS else 'base'} {workers}p"] = {
                "p50": paced["p50_ms"],
                "p99": paced["p99_ms"],
                "a50": paced["after_answer_p50_ms"],
                "a99": paced["after_answer_p99_ms"],
                "lost_paced": paced["lost"],
                "events": flat["events_per_second_to_all"],
                "deliveries": flat["deliveries_per_second"],
                "writes": flat["writes_per_second"],
                "p99_flat": flat["p99_ms"],
                "lost_flat": flat["lost"],
            }
        ours, base = columns[f"ours {workers}p"], columns[f"base {workers}p"]
        columns[f"ours/base {workers}p"] = {
            "p50": f"{ours['p50'] / base['p50']:.2f}x" if base["p50"] else "-",
            "p99": f"{ours['p99'] / base['p99']:.2f}x" if base["p99"] else "-",
            # Times that may be negative have no ratio: the difference instead.
            "a50": f"{ours['a50'] - base['a50']:+.1f} ms",
            "a99": f"{ours['a99'] - base['a99']:+.1f} ms",
            "events": f"{base['events'] / ours['events']:.2f}x" if ours["events"] else "-",
        }
    harness.print_table(
        columns,
        [
            ("paced: write->delivery p50 (ms)", "p50"),
            ("paced: write->delivery p99 (ms)", "p99"),
            ("paced: answer->delivery p50 (ms)", "a50"),
            ("paced: answer->delivery p99 (ms)", "a99"),
            ("paced: deliveries lost", "lost_paced"),
            ("flat out: events/s to all clients", "events"),
            ("flat out: deliveries/s", "deliveries"),
            ("flat out: API writes/s", "writes"),
            ("flat out: p99 (ms)", "p99_flat"),
            ("flat out: deliveries lost", "lost_flat"),
        ],
    )
    print(
        "(ours/base: > 1 means ours is slower; answer->delivery: ours minus base. Negative:"
        " delivered before the write's answer reached its client)"
    )
    harness.write_results(
        "server_events",
        {
            "clients": args.clients,
            "sessions": args.sessions,
            "writers": args.writers,
            "paced_rate": args.rate,
            "seconds": args.seconds,
            "phases": results,
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
