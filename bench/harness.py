"""What every benchmark here shares: the database, the servers, the measuring loops, the tables.

A benchmark starts real servers as subprocesses (uvicorn, one worker, loopback only), measures
over HTTP with a bounded client loop against a reference measured in the same run and in
alternating turns, prints the figures side by side and writes them to bench/results/. Every
wait and loop has a count and a time limit; servers are stopped in `finally` blocks, and SIGTERM
runs those (exit_cleanly_on_sigterm).
"""

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"  # git-ignored
# The benchmarks get a database of their own, so seeding never touches dev or test data.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/evovoice_bench"
HOST = "127.0.0.1"  # loopback only: the servers never listen elsewhere
SERVER_START_TIMEOUT = 30.0  # seconds for a server to answer its first request
SERVER_STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
GRACEFUL_SHUTDOWN = 3  # seconds uvicorn waits for open requests (event streams) on SIGTERM
REQUEST_TIMEOUT = 30.0  # seconds for any one request
# baseline_server.py's pre-encoded session documents: (account_id, position, document).
PRE_ENCODED_TABLE = "bench_pre_encoded_session"
NOISE = (
    "Client, servers and PostgreSQL share this machine with other work: absolute figures are "
    "noisy, compare the ratios."
)


def parser(doc: str, bounds: str = "") -> argparse.ArgumentParser:
    """A command line described by the first paragraph of `doc`, whose --help ends with the
    fixed time bounds (the counts and time caps are options)."""
    fixed = (
        f"Fixed bounds: a server has {SERVER_START_TIMEOUT:g}s to start and "
        f"{SERVER_STOP_TIMEOUT:g}s to stop after SIGTERM (then SIGKILL); a request "
        f"{REQUEST_TIMEOUT:g}s."
    )
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0], epilog=f"{bounds} {fixed}".strip()
    )


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks and context managers stop the servers."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist (via the `postgres` database)."""
    params = conninfo_to_dict(url)
    name = params.get("dbname")
    if not name:
        raise SystemExit(f"DATABASE_URL names no database: {url}")
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def vacuum_analyze(url: str) -> None:
    """VACUUM ANALYZE the database in `url` (outside any transaction)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def django_env(url: str) -> dict[str, str]:
    """The environment for `manage.py` and the servers: production-like, quiet, no simulator
    timers (SIMULATED_ANSWER_DELAY=-1), this database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-secret",
        DJANGO_ALLOWED_HOSTS=HOST,
        SIMULATED_ANSWER_DELAY="-1",
        LOG_LEVEL=env.get("LOG_LEVEL", "WARNING"),
    )
    return env


def prepare_database() -> tuple[str, str]:
    """The bench database (DATABASE_URL, else DEFAULT_DATABASE_URL) created if need be and
    migrated, and Django set up on it in this process; returns (url, database name)."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    ensure_database(url)
    command = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
    subprocess.run(command, cwd=ROOT, env=django_env(url), check=True, timeout=300)
    os.environ.update(django_env(url))
    if str(ROOT) not in sys.path:  # scripts run as `python bench/x.py` see only bench/
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return url, conninfo_to_dict(url).get("dbname")


def seed_account(account_id: str, name: str, username: str, password: str) -> tuple:
    """Replace a benchmark's account (its sessions and their rows cascade) and its user, a User
    in that account; return (account, user). Call inside a transaction. Only uses what the old
    code's models have too (bench/actions.py seeds that code's database with it)."""
    from sessions_app.models import Account, Role, User

    User.objects.filter(username=username).delete()
    Account.objects.filter(pk=account_id).delete()
    account = Account.objects.create(id=account_id, name=name)
    user = User(username=username, role=Role.USER)
    user.set_password(password)
    user.save()
    user.accounts.set([account])
    return account, user


class Server:
    """A one-worker uvicorn server in a subprocess on a free loopback port. As a context manager,
    entering waits until it answers HTTP (any status); exiting stops it (SIGTERM, then SIGKILL).
    Its output is kept in a temporary file and shown if it fails to start."""

    def __init__(self, name: str, app: str, env: dict[str, str], app_dir: Path = ROOT):
        self.name = name
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        self.base_url = f"http://{HOST}:{port}"
        self._command = [
            *(sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir)),
            *("--host", HOST, "--port", str(port), "--no-access-log"),
            *("--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN)),
        ]
        self._env = env
        self._log = None
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            self._command, cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            with http_client() as client:
                while True:
                    if self._process.poll() is not None:
                        self._log.seek(0)
                        output = self._log.read().decode(errors="replace")
                        raise RuntimeError(f"{self.name} server exited:\n{output}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.name} server did not answer in time")
                    try:
                        client.get(f"{self.base_url}/", timeout=2.0)
                        return self
                    except httpx.TransportError:
                        time.sleep(0.1)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc_info) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(SERVER_STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()


def http_client(headers: dict[str, str] | None = None) -> httpx.Client:
    """A client that ignores proxy settings from the environment: traffic stays on loopback."""
    return httpx.Client(trust_env=False, timeout=REQUEST_TIMEOUT, headers=headers)


def sign_in(base_url: str, username: str, password: str) -> dict[str, str]:
    """`POST /auth/credentials` once; return the headers of a signed-in JSON API client (so
    password hashing, slow by design, stays out of the measurement). The cookie is Secure (DEBUG
    is off) and would not be sent back over plain HTTP: it goes as a header."""
    with http_client() as client:
        response = client.post(
            f"{base_url}/auth/credentials",
            json={"userName": username, "password": password},
            headers={"Accept": "application/json"},
        )
    token = response.cookies.get("ss-id")
    if response.status_code != 200 or not token:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")
    return {"Accept": "application/json", "Cookie": f"ss-id={token}"}


def portal_sign_in(base_url: str, username: str, password: str) -> dict[str, str]:
    """Sign in through the portal's login form; return the headers carrying the session cookie
    and the CSRF token (as base.html makes htmx send it). The cookies are Secure (DEBUG is off),
    so, as in `sign_in`, they go as a header."""
    with http_client() as client:
        form = client.get(f"{base_url}/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        csrf = form.cookies.get("csrftoken")
        if not token or not csrf:
            raise RuntimeError(f"login form: {form.status_code}: {form.text[:300]}")
        response = client.post(
            f"{base_url}/accounts/login/",
            data={
                "csrfmiddlewaretoken": token[1],
                "next": "/",
                "username": username,
                "password": password,
            },
            headers={"Cookie": f"csrftoken={csrf}"},
        )
    session, csrf = response.cookies.get("sessionid"), response.cookies.get("csrftoken") or csrf
    if response.status_code != 302 or not session:
        raise RuntimeError(f"portal sign-in failed: {response.status_code} {response.text[:300]}")
    return {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf}


# A check returns None if the response is right, else a short description of what is wrong.
Check = Callable[[httpx.Response], str | None]
# How client thread number `worker` sends one request with its client.
Request = Callable[[httpx.Client, int], httpx.Response]


def percentile_ms(values: list[float], percentile: float) -> float:
    """Nearest-rank percentile of `values` (seconds), in milliseconds; nan if there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percentile / 100 * len(ordered))) - 1] * 1000


def latency_summary(values: list[float]) -> dict:
    """Count, p50, p99 and max (ms) of `values` (seconds), for a results file."""
    return {"count": len(values)} | {
        f"{name}_ms": round(percentile_ms(values, p), 2)
        for name, p in (("p50", 50), ("p99", 99), ("max", 100))
    }


@dataclass
class Measurement:
    """One target's requests: how many, over how long, each one's latency."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    response_bytes: int = 0  # size of the last response body

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, percentile: float) -> float:
        return percentile_ms(self.latencies, percentile)

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.requests_per_second, 2),
            "p50_ms": round(self.latency_ms(50), 2),
            "p99_ms": round(self.latency_ms(99), 2),
            "response_bytes": self.response_bytes,
        }


@dataclass(frozen=True)
class Target:
    """One endpoint to measure: where, with which headers, what a right answer is; `request`
    sends something else than `GET url`."""

    name: str
    url: str
    headers: dict[str, str]
    check: Check
    request: Request | None = None

    def send(self, client: httpx.Client, worker: int) -> httpx.Response:
        return self.request(client, worker) if self.request else client.get(self.url)

    def warm_up(self, requests: int) -> httpx.Response:
        """A few sequential requests, so imports, caches and connections are warm; returns the
        last response."""
        with http_client(self.headers) as client:
            for _ in range(requests):
                response = self.send(client, 0)
                if problem := self.check(response):
                    raise RuntimeError(f"warm-up of {self.name} failed: {problem}")
        return response


def measure(target: Target, *, max_requests: int, max_seconds: float, concurrency: int):
    """Send the target's request from `concurrency` threads until `max_requests` are done or
    `max_seconds` pass; the first wrong answer stops the run (RuntimeError).

    Latency is from sending a request to having read its whole body; the check runs outside the
    timed window. Requests/s is completed requests over the wall time of the whole loop.
    """
    result, problems = Measurement(), []
    lock = threading.Lock()
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    def worker(number: int) -> None:
        nonlocal issued
        with http_client(target.headers) as client:
            while True:
                with lock:
                    if issued >= max_requests or time.perf_counter() >= deadline or problems:
                        return
                    issued += 1
                sent = time.perf_counter()
                try:
                    response = target.send(client, number)
                except httpx.HTTPError as error:
                    problems.append(f"{type(error).__name__}: {error}")
                    return
                latency = time.perf_counter() - sent
                problem = target.check(response)
                with lock:
                    result.latencies.append(latency)
                    result.response_bytes = len(response.content)
                    if problem:
                        problems.append(problem)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:  # the loop stops issuing at the deadline; let the last ones finish
        thread.join(max_seconds + REQUEST_TIMEOUT)
    if problems:
        raise RuntimeError(f"{target.name}: {problems[0]}")
    result.seconds = time.perf_counter() - started
    result.requests = len(result.latencies)
    return result


def measure_in_rounds(
    targets: list[Target], *, rounds: int, max_requests: int, max_seconds: float, concurrency: int
) -> dict[str, Measurement]:
    """Measure the targets in turn, `rounds` times, each turn with a 1/rounds share of the budgets,
    then pool each target's turns. Alternating spreads any change in the machine's load over all
    targets alike, which keeps their ratios meaningful on a busy machine."""
    pooled = {target.name: Measurement() for target in targets}
    for _ in range(rounds):
        for target in targets:
            turn = measure(
                target,
                max_requests=math.ceil(max_requests / rounds),
                max_seconds=max_seconds / rounds,
                concurrency=concurrency,
            )
            total = pooled[target.name]
            total.requests += turn.requests
            total.seconds += turn.seconds
            total.latencies += turn.latencies
            total.response_bytes = turn.response_bytes
    return pooled


class InProcess:
    """Times code called in this process (Django set up), by phase: each phase's own wall time
    (nested phases excluded), the time inside cursor.execute and the number of queries, and the
    cyclic GC's pauses and full collections, each counted in the innermost phase open.

    As portal/asgi.py does after startup, everything loaded so far is frozen out of the
    collector's reach first, so the pauses are those a server would have.
    """

    def __init__(self):
        self.figures: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [name, started, seconds in nested phases]
        self._gc_started = 0.0

    @contextmanager
    def phase(self, name: str):
        self._stack.append([name, time.perf_counter(), 0.0])
        try:
            yield
        finally:
            _, started, nested = self._stack.pop()
            seconds = time.perf_counter() - started
            self.figures[name] += seconds - nested
            if self._stack:
                self._stack[-1][2] += seconds

    def _execute(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            name = self._stack[-1][0] if self._stack else "outside"
            self.figures[f"{name}_db"] += time.perf_counter() - started
            self.figures[f"{name}_queries"] += 1

    def _on_gc(self, event: str, info: dict) -> None:
        if event == "start":
            self._gc_started = time.perf_counter()
            return
        name = self._stack[-1][0] if self._stack else "outside"
        self.figures[f"{name}_gc"] += time.perf_counter() - self._gc_started
        self.figures[f"{name}_full_gcs"] += info["generation"] == 2

    def medians(self, call: Callable[[], object], iterations: int) -> dict[str, float]:
        """Call once to warm up, then `iterations` times; the median of each figure, in ms (or a
        count, for `*_queries` and `*_full_gcs`)."""
        from django.db import connection

        runs = []
        gc.collect()
        gc.freeze()
        gc.callbacks.append(self._on_gc)
        try:
            with connection.execute_wrapper(self._execute):
                for _ in range(iterations + 1):
                    self.figures.clear()
                    call()
                    runs.append(dict(self.figures))
        finally:
            gc.callbacks.remove(self._on_gc)
        suffixes = ("_db", "_queries", "_gc", "_full_gcs")
        phases = {key for run in runs for key in run if not key.endswith(suffixes)}
        medians = {}
        for key in phases | {phase + suffix for phase in phases for suffix in suffixes}:
            median = statistics.median(run.get(key, 0) for run in runs[1:])
            count = key.endswith(("_queries", "_full_gcs"))
            medians[key] = round(median) if count else round(float(median) * 1000, 2)
        return medians


def print_profile(call: Callable[[], object], iterations: int, title: str) -> None:
    """cProfile `iterations` calls of `call`; print the top 20 functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
    print(f"\ncProfile of {iterations} {title}, top 20 by own time:")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])


def print_table(columns: dict[str, dict], rows: list[tuple[str, str]]) -> None:
    """One column per entry of `columns` ({key: cell}), one row per (label, key); a cell is a
    count (int), a figure (float, shown to one decimal) or text."""
    widths = {name: max(10, len(name) + 2) for name in columns}
    print(f"{'':<36}" + "".join(f"{name:>{widths[name]}}" for name in columns))
    for label, key in rows:
        cells = {name: column.get(key, "") for name, column in columns.items()}
        cells = {name: f"{v:.1f}" if isinstance(v, float) else str(v) for name, v in cells.items()}
        print(f"{label:<36}" + "".join(f"{cells[name]:>{widths[name]}}" for name in columns))


def print_figures(
    measured: dict[str, Measurement],
    ratios: list[tuple[str, str]],
    extra: list[tuple[str, dict[str, float]]] = (),
) -> None:
    """The measurements side by side, then for each (a, b) in `ratios` how many times slower a
    is than b (a's latency over b's, b's requests/s over a's); `extra` adds rows of other
    figures, (label, {target: value})."""
    columns = {
        name: {
            "rate": m.requests_per_second,
            "p50": m.latency_ms(50),
            "p99": m.latency_ms(99),
            "requests": m.requests,
            "KiB": round(m.response_bytes / 1024),
        }
        for name, m in measured.items()
    }
    for label, values in extra:
        for name, value in values.items():
            columns[name][label] = value
    for a, b in ratios:
        first, second = columns[a], columns[b]
        columns[f"{a}/{b}"] = {
            key: f"{x / y:.2f}x" if y else "-"
            for key, x, y in [
                ("rate", second["rate"], first["rate"]),
                ("p50", first["p50"], second["p50"]),
                ("p99", first["p99"], second["p99"]),
            ]
        }
    rows = [("requests/s", "rate"), ("p50 latency (ms)", "p50"), ("p99 latency (ms)", "p99")]
    rows += [("requests measured", "requests"), ("body (KiB)", "KiB")]
    print_table(columns, rows + [(label, label) for label, _ in extra])
    if ratios:
        print(f"({', '.join(f'{a}/{b}' for a, b in ratios)}: > 1 means the first is slower)")


def machine(load_before: float) -> str:
    """This machine, for the report: CPUs, Python, load average before and now."""
    return (
        f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


def write_results(name: str, figures: dict) -> None:
    """Write bench/results/<name>.json: the figures, with the benchmark's name, time and CPUs."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    when = datetime.now(UTC).isoformat(timespec="seconds")
    data = {"benchmark": name, "when": when, "cpus": os.cpu_count(), **figures}
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"results written to {path.relative_to(ROOT)}")
