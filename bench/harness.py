"""What every benchmark here shares: the database, the servers and the measuring loop.

A benchmark script starts a real server as a subprocess (uvicorn, one worker unless asked for
more, loopback only), measures over HTTP with a bounded client loop, measures a reference in
the same run (a minimal baseline server, another endpoint, or the code before a change), and
prints the figures side by side. Nothing here runs forever: every wait and every loop has a
count and a time limit, and servers are stopped in `finally` blocks.
"""

import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks and context managers stop the servers
    (Python's default would end the process without running them)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist (via the `postgres` database)."""
    params = conninfo_to_dict(url)
    name = params.get("dbname")
    if not name:
        raise SystemExit(f"DATABASE_URL names no database: {url}")
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def django_env(url: str) -> dict[str, str]:
    """The environment for `manage.py` and the app server: production-like, quiet, no simulator
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


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=django_env(url),
        check=True,
        timeout=300,
    )


def setup_django(url: str) -> None:
    """Configure Django in this process, on `url`, with the servers' settings (for seeding and
    profiling; the measured server itself always runs in its own process)."""
    os.environ.update(django_env(url))
    if str(ROOT) not in sys.path:  # scripts run as `python bench/x.py` see only bench/
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_database() -> tuple[str, str]:
    """The bench database created if need be, migrated, and Django set up on it in this
    process: returns (url, database name)."""
    url = database_url()
    ensure_database(url)
    migrate(url)
    setup_django(url)
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """A uvicorn server in a subprocess, one worker by default, on a free loopback port.

    Use as a context manager: entering waits until the server answers HTTP (any status), exiting
    stops it. Its output goes to a temporary file that is printed if it fails to start.
    With `workers` > 1, uvicorn runs a supervisor process and that many worker processes
    sharing the listening socket (each connection is accepted by one of them).
    """

    def __init__(
        self,
        name: str,
        app: str,
        env: dict[str, str],
        app_dir: Path = ROOT,
        workers: int = 1,
    ):
        self.name = name
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self._command = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--app-dir",
            str(app_dir),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--timeout-graceful-shutdown",
            str(GRACEFUL_SHUTDOWN),
            "--no-access-log",
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
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"{self.name} server exited:\n{self.output()}")
                try:
                    client.get(f"{self.base_url}/")
                    return
                except httpx.TransportError:
                    time.sleep(0.1)
        raise RuntimeError(f"{self.name} server did not answer in {SERVER_START_TIMEOUT}s")

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after SERVER_STOP_TIMEOUT; worker processes left behind by a
        killed supervisor are killed too (only this server's own children: each is identified
        by its pid and start time, so a reused pid is never hit)."""
        if self._process is not None and self._process.poll() is None:
            children = child_processes(self._process.pid)
            self._process.terminate()
            try:
                self._process.wait(SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                children.update(child_processes(self._process.pid))
                self._process.kill()
                self._process.wait(SERVER_STOP_TIMEOUT)
            for pid, started in children.items():
                fields = _stat_fields(pid)
                if fields and fields[0] != "Z" and fields[19] == started:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self._log is not None:
            self._log.close()
            self._log = None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [0] state, [1] parent pid, [19] start time."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def child_processes(parent: int) -> dict[int, str]:
    """`parent`'s direct children as {pid: start time} (Linux /proc; empty elsewhere)."""
    proc = Path("/proc")
    children = {}
    for entry in proc.iterdir() if proc.is_dir() else ():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and int(fields[1]) == parent:
                children[int(entry.name)] = fields[19]
    return children


def http_client(headers: dict[str, str] | None = None) -> httpx.Client:
    """A client that ignores proxy settings from the environment: traffic stays on loopback."""
    return httpx.Client(trust_env=False, timeout=REQUEST_TIMEOUT, headers=headers)


def sign_in(base_url: str, username: str, password: str) -> dict[str, str]:
    """`POST /auth/credentials` once; return the headers of a signed-in JSON API client.

    Signing in once (rather than sending Basic credentials on every request) keeps password
    hashing, which is slow by design, out of the measurement. The cookie is Secure (DEBUG is
    off), so the client would not send it back over plain HTTP: it goes as a header.
    """
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


# A check returns None if the response is right, else a short description of what is wrong.
Check = Callable[[httpx.Response], str | None]
# How worker thread number `worker` sends one request with its client.
Request = Callable[[httpx.Client, int], httpx.Response]


def percentile_ms(values: list[float], percentile: float) -> float:
    """Nearest-rank percentile of `values` (seconds), in milliseconds; nan if there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percentile / 100 * len(ordered))) - 1] * 1000


@dataclass
class Measurement:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, one per request
    response_bytes: int = 0  # size of the last response body
    problems: list[str] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, percentile: float) -> float:
        return percentile_ms(self.latencies, percentile)


@dataclass(frozen=True)
class Target:
    """One server's endpoint to measure: where, with which headers, and what a right answer is;
    `request` sends something else than `GET url`."""

    name: str
    url: str
    headers: dict[str, str]
    check: Check
    request: Request | None = None

    def send(self, client: httpx.Client, worker: int) -> httpx.Response:
        return self.request(client, worker) if self.request else client.get(self.url)


def measure(
    target: Target, *, max_requests: int, max_seconds: float, concurrency: int
) -> Measurement:
    """Send the target's request from `concurrency` threads until `max_requests` are done or
    `max_seconds` pass.

    Latency is the time from sending a request to having read its whole body; the check runs
    after that, outside the timed window (it still uses client CPU on the shared machine).
    Requests/s is completed requests over the wall time of the whole loop.
    """
    result = Measurement()
    lock = threading.Lock()
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    def worker(number: int) -> None:
        nonlocal issued
        with http_client(target.headers) as client:
            while True:
                with lock:
                    if issued >= max_requests or time.perf_counter() >= deadline:
                        return
                    if result.problems:  # one failure is enough: stop early
                        return
                    issued += 1
                sent = time.perf_counter()
                try:
                    response = target.send(client, number)
                except httpx.HTTPError as error:
                    with lock:
                        result.problems.append(f"{type(error).__name__}: {error}")
                    return
                latency = time.perf_counter() - sent
                problem = target.check(response)
                with lock:
                    result.latencies.append(latency)
                    result.response_bytes = len(response.content)
                    if problem:
                        result.problems.append(problem)

    threads = [
        threading.Thread(target=worker, args=(number,), daemon=True)
        for number in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # The loop stops issuing at the deadline; allow the last requests in flight to finish.
        thread.join(max_seconds + REQUEST_TIMEOUT)
    result.seconds = time.perf_counter() - started
    result.requests = len(result.latencies)
    return result


def warm_up(*, url: str, headers: dict[str, str], check: Check, requests: int) -> None:
    """A few sequential requests first, so imports, caches and connections are warm."""
    with http_client(headers) as client:
        for _ in range(requests):
            problem = check(client.get(url))
            if problem:
                raise RuntimeError(f"warm-up request to {url} failed: {problem}")


def measure_in_rounds(
    targets: list[Target],
    *,
    rounds: int,
    max_requests: int,
    max_seconds: float,
    concurrency: int,
) -> dict[str, Measurement]:
    """Measure the targets in turn, `rounds` times, each turn with a 1/rounds share of the
    request and time budgets; then pool each target's turns.

    Alternating, rather than measuring one target and then the other, spreads any change in the
    machine's load (client, servers and anything else running share its CPUs) over all targets
    alike, which keeps their ratios meaningful on a busy machine.
    """
    turns: dict[str, list[Measurement]] = {target.name: [] for target in targets}
    for _ in range(rounds):
        for target in targets:
            turn = measure(
                target,
                max_requests=math.ceil(max_requests / rounds),
                max_seconds=max_seconds / rounds,
                concurrency=concurrency,
            )
            if turn.problems:
                raise RuntimeError(f"{target.name}: {turn.problems[0]}")
            turns[target.name].append(turn)
    return {name: pooled(measurements) for name, measurements in turns.items()}


def pooled(measurements: list[Measurement]) -> Measurement:
    """Several measurements of one target as one: requests and time add up, latencies pool."""
    return Measurement(
        requests=sum(m.requests for m in measurements),
        seconds=sum(m.seconds for m in measurements),
        latencies=[latency for m in measurements for latency in m.latencies],
        response_bytes=measurements[-1].response_bytes,
        problems=[problem for m in measurements for problem in m.problems],
    )


def print_comparison(ours: Measurement, baseline: Measurement) -> None:
    """The figures side by side, with ratios oriented so that > 1 means we are slower."""
    rows = [
        ("requests/s", ours.requests_per_second, baseline.requests_per_second, "baseline/ours"),
        ("p50 latency (ms)", ours.latency_ms(50), baseline.latency_ms(50), "ours/baseline"),
        ("p99 latency (ms)", ours.latency_ms(99), baseline.latency_ms(99), "ours/baseline"),
    ]
    print(f"{'':<18}{'ours':>11}{'baseline':>11}{'ratio':>9}  ratio is")
    for label, mine, theirs, orientation in rows:
        if orientation == "baseline/ours":
            ratio = theirs / mine if mine else math.inf
        else:
            ratio = mine / theirs if theirs else math.inf
        print(f"{label:<18}{mine:>11.1f}{theirs:>11.1f}{ratio:>8.2f}x  {orientation}")
    print(
        f"{'requests measured':<18}{ours.requests:>11}{baseline.requests:>11}\n"
        f"{'body (KiB)':<18}{ours.response_bytes / 1024:>11.0f}"
        f"{baseline.response_bytes / 1024:>11.0f}"
    )


def summary(measurement: Measurement) -> dict:
    return {
        "requests": measurement.requests,
        "seconds": round(measurement.seconds, 3),
        "requests_per_second": round(measurement.requests_per_second, 2),
        "p50_ms": round(measurement.latency_ms(50), 2),
        "p99_ms": round(measurement.latency_ms(99), 2),
        "response_bytes": measurement.response_bytes,
    }


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
