"""Benchmark: hold / resume across sessions through the HTTP API with a slow provider, against
the code before the action unit (commit 2d30394) measured in the same run.

Measures actions/s and p50/p99 latency of the real server (one worker, production settings, a
psycopg pool of 10) while 20 client threads alternate `POST /sessions/{id}/hold` and `PATCH
/sessions/{id}` `{"callState": "Connected"}` on 10 Connected voice sessions each, with every
provider call taking 0 s, 0.2 s and 1 s (SIMULATED_PROVIDER_LATENCY). Now the provider is called
with no transaction open; before, inside the one holding the session row, so a pooled connection
was held throughout: at most pool/latency actions/s (10/s at 1 s). Baseline ("before"): that
code in a temporary git worktree on its own database (<bench database>_before), seeded alike,
same pool and latency, in alternating turns; without the commit (shallow clone) or with
--no-before, only the theoretical ceilings: min(clients, pool)/latency before, clients/latency.
Speed-up = (actions x latency) / wall time: how many actions were at the provider at once.
"""

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import harness
import httpx
import orjson
from psycopg.conninfo import conninfo_to_dict

SESSIONS = 200
CLIENTS = 20
LATENCIES = (0.0, 0.2, 1.0)  # seconds per provider operation
POOL_MAX = 10  # DATABASE_POOL_MAX given to both servers
BEFORE_COMMIT = "2d30394"  # the last commit with the provider called inside the transaction
APP = "portal.asgi:application"

# The bench's own rows, apart from active_sessions.py's, so a rerun can wipe them.
ACCOUNT_ID = "bench-actions-account"
USERNAME = "bench-actions-user"
PASSWORD = "bench-actions-password"


def session_ids(count: int) -> list[str]:
    """The ids of the bench's first `count` sessions."""
    return [f"bench-actions-{index:04d}" for index in range(count)]


def seed(sessions: int = SESSIONS) -> None:
    """Replace the bench rows: the account, its user and `sessions` Connected incoming voice
    calls, each with its caller on the session's own call. Uses only what both versions' models
    have: the old code's database is seeded with it too (by that code's `manage.py shell`)."""
    from django.db import transaction

    from sessions_app import models as m

    with transaction.atomic():
        account, _ = harness.seed_account(ACCOUNT_ID, "Bench Actions", USERNAME, PASSWORD)
        rows, members = [], []
        for index, sid in enumerate(session_ids(sessions)):
            caller, name = f"+1555{index:07d}", f"Caller {index:04d}"
            call_sid = f"CAac7105{index:026x}"  # the provider's shape; ac7105: this bench's
            session = m.CallSession(
                id=sid,
                account=account,
                dial_state=m.DialState.ACTIVE,
                call_state=m.CallState.CONNECTED,
                channel=m.Channel.VOICE,
                direction=m.Direction.INCOMING,
                from_address=caller,
                to_address="+15550002222",
                display_name=name,
                answered_by_name="Bench Agent",
                call_sid=call_sid,
            )
            rows.append(session)
            members.append(
                m.SessionMember(
                    session=session,
                    identity=caller,
                    display_name=name,
                    is_original_member=True,
                    call_state=m.MemberCallState.CONNECTED,
                    role=m.MemberRole.CALLER,
                    call_sid=call_sid,
                )
            )
        m.CallSession.objects.bulk_create(rows)
        m.SessionMember.objects.bulk_create(members)


class SlowProviderForOldCode:
    """The "before" server's provider (TELEPHONY_PROVIDER=actions.SlowProviderForOldCode): the
    old code's SimulatedProvider, each operation first sleeping SIMULATED_PROVIDER_LATENCY
    seconds as the new one does (the old code has no such setting)."""

    def __init__(self):
        from sessions_app.telephony.simulated import SimulatedProvider

        self._inner = SimulatedProvider()
        self._latency = float(os.environ.get("SIMULATED_PROVIDER_LATENCY", "0"))

    def __getattr__(self, name: str):
        operation = getattr(self._inner, name)
        if name.startswith("_") or not callable(operation):
            return operation

        def slow(*args, **kwargs):
            time.sleep(self._latency)
            return operation(*args, **kwargs)

        return slow


def git(*args: str, check: bool = True) -> bool:
    """Run git in this clone; quiet unless `check` (then a failure shows and raises)."""
    command = ["git", "-C", str(harness.ROOT), *args]
    done = subprocess.run(command, capture_output=not check, check=check, timeout=120)
    return done.returncode == 0


@dataclass
class Before:
    """The code at BEFORE_COMMIT, checked out at `path`, on a database of its own."""

    path: Path
    url: str

    def env(self) -> dict[str, str]:
        """Its database, and bench/ importable (for the provider above and `seed`)."""
        return {
            **harness.django_env(self.url),
            "PYTHONPATH": str(harness.BENCH_DIR),
            "TELEPHONY_PROVIDER": "actions.SlowProviderForOldCode",
        }

    def manage(self, *args: str) -> None:
        """Its `manage.py`, run in the worktree, so `sessions_app` is the old one."""
        command = [sys.executable, "manage.py", *args]
        subprocess.run(command, cwd=self.path, env=self.env(), check=True, timeout=300)

    def server(self, env: dict[str, str]) -> harness.Server:
        """Its server. PYTHONSAFEPATH keeps the new code's root (the servers' cwd) off sys.path,
        so only the worktree (`--app-dir`) provides `portal` and `sessions_app`."""
        return harness.Server("before", APP, {**env, "PYTHONSAFEPATH": "1"}, app_dir=self.path)


@contextlib.contextmanager
def code_before(bench_url: str):
    """The worktree added and its database created if need be and migrated; the worktree is
    removed on the way out, whatever happens."""
    database = f"{conninfo_to_dict(bench_url)['dbname']}_before"
    before = Before(
        Path(tempfile.mkdtemp(prefix="evovoice-bench-before-")),
        urlsplit(bench_url)._replace(path=f"/{database}").geturl(),
    )
    try:
        git("worktree", "add", "--detach", "--quiet", str(before.path), BEFORE_COMMIT)
        harness.ensure_database(before.url)
        before.manage("migrate", "--noinput", "-v0")
        yield before
    finally:
        git("worktree", "remove", "--force", str(before.path), check=False)
        shutil.rmtree(before.path, ignore_errors=True)
        git("worktree", "prune", check=False)


def hold_and_resume(base_url: str, sessions: int, clients: int) -> harness.Request:
    """Client thread k owns sessions k, k+clients, ...; at its step n it holds its session
    n // 2 (n even), then resumes it. The steps carry over from one turn to the next."""
    ids = session_ids(sessions)
    steps = [0] * clients

    def request(client: httpx.Client, k: int) -> httpx.Response:
        step, steps[k] = steps[k], steps[k] + 1
        owned = ids[k::clients]
        url = f"{base_url}/sessions/{owned[step // 2 % len(owned)]}"
        if step % 2 == 0:
            return client.post(f"{url}/hold", json={})
        return client.patch(url, json={"callState": "Connected"})

    return request


def check_action(response: httpx.Response) -> str | None:
    """A right answer is a 200 with the session in the state the action leads to."""
    action = f"{response.request.method} {response.url.path}"
    if response.status_code != 200:
        return f"{action}: status {response.status_code}: {response.text[:300]}"
    expected = "Hold" if response.request.method == "POST" else "Connected"
    state = orjson.loads(response.content).get("callState")
    return None if state == expected else f"{action}: callState {state!r}, not {expected!r}"


def measure_latency(latency: float, url: str, before: Before | None, args) -> dict:
    """Both servers at one provider latency, on freshly seeded databases, side by side: a
    warm-up of one hold and resume per client, then `args.rounds` alternating turns."""
    from django.db import connection

    settings = {
        "SIMULATED_PROVIDER_LATENCY": str(latency),
        "DATABASE_POOL_MAX": str(args.pool_max),
        "DATABASE_POOL_MIN": str(min(2, args.pool_max)),
    }
    seed(args.sessions)
    connection.close()  # the servers open their own
    servers = [harness.Server("ours", APP, {**harness.django_env(url), **settings})]
    if before:
        before.manage("shell", "-v0", "-c", f"import actions; actions.seed({args.sessions})")
        servers.append(before.server({**before.env(), **settings}))
    with contextlib.ExitStack() as stack:
        targets = []
        for server in servers:
            stack.enter_context(server)
            sign_in = harness.sign_in(server.base_url, USERNAME, PASSWORD)
            actions = hold_and_resume(server.base_url, args.sessions, args.clients)
            targets.append(harness.Target(server.name, "", sign_in, check_action, actions))
        run = functools.partial(harness.measure_in_rounds, targets, concurrency=args.clients)
        run(rounds=1, max_requests=2 * args.clients, max_seconds=harness.REQUEST_TIMEOUT)
        return run(rounds=args.rounds, max_requests=args.actions, max_seconds=args.seconds)


def report(latency: float, measured: dict[str, harness.Measurement], args) -> dict:
    """Print one latency's table; return its figures for the results file."""
    serial = {name: m.requests * latency for name, m in measured.items()}
    speedup = {name: serial[name] / m.seconds for name, m in measured.items()}
    extra = [("wall time (s)", {name: m.seconds for name, m in measured.items()})]
    ceilings = {}
    if latency:
        extra += [("serial time = actions x latency (s)", serial), ("speed-up", speedup)]
        old = min(args.clients, args.pool_max)
        ceilings = {
            f"old design min({args.clients}, {args.pool_max})/latency": round(old / latency, 2),
            f"clients {args.clients}/latency": round(args.clients / latency, 2),
        }
    print(f"\nprovider latency {latency:g} s")
    harness.print_figures(measured, [("before", "ours")] if "before" in measured else [], extra)
    for label, ceiling in ceilings.items():
        reached = ", ".join(
            f"{name} {m.requests_per_second / ceiling:.0%}" for name, m in measured.items()
        )
        print(f"ceiling: {label:<29}{ceiling:>10.1f} actions/s; reached: {reached}")
    figures = {
        name: m.summary()
        | {"serial_seconds": round(serial[name], 3), "speedup_over_serial": round(speedup[name], 2)}
        for name, m in measured.items()
    }
    return {"latency": latency, **figures, "ceilings_per_second": ceilings}


def main() -> int:
    parser = harness.parser(
        __doc__,
        "Every turn is bounded by its share of --actions and --seconds; the whole run, "
        "with the code before the change, takes about 2 minutes.",
    )
    add = parser.add_argument
    add("--sessions", type=int, default=SESSIONS, help=f"sessions seeded (default {SESSIONS})")
    add("--clients", type=int, default=CLIENTS, help=f"client threads (default {CLIENTS})")
    add("--actions", type=int, default=3000, help="at most, per server and latency (default 3000)")
    add("--seconds", type=float, default=12.0, help="time cap per server and latency (default 12)")
    add("--rounds", type=int, default=2, help="alternating turns per server (default 2)")
    add("--pool-max", type=int, default=POOL_MAX, help=f"DATABASE_POOL_MAX (default {POOL_MAX})")
    add(
        "--latencies",
        type=lambda text: tuple(float(part) for part in text.split(",")),
        default=LATENCIES,
        help="provider latencies in seconds, comma-separated (default 0,0.2,1)",
    )
    add("--no-before", action="store_true", help=f"skip the code at {BEFORE_COMMIT}")
    args = parser.parse_args()
    if min(args.clients, args.rounds, args.actions, args.pool_max, args.seconds) <= 0:
        parser.error("--clients, --rounds, --actions, --seconds and --pool-max must be positive")
    if args.sessions < args.clients:
        parser.error("--sessions must be at least --clients: no session is shared")
    harness.exit_cleanly_on_sigterm()

    url, database = harness.prepare_database()
    commit = f"{BEFORE_COMMIT}^{{commit}}"
    use_before = not args.no_before and git("cat-file", "-e", commit, check=False)
    if not args.no_before and not use_before:
        print(f"commit {BEFORE_COMMIT} is not in this clone (shallow?): theoretical figures only")
    load_before = os.getloadavg()[0]
    with code_before(url) if use_before else contextlib.nullcontext() as before:
        measured = {
            latency: measure_latency(latency, url, before, args) for latency in args.latencies
        }

    print(
        f"\nHold / resume across sessions: {args.sessions} sessions in database {database}, "
        f"{args.clients} client threads on sessions of their own, one uvicorn worker per server, "
        f"a pool of {args.pool_max}, up to {args.actions} actions or {args.seconds:g}s per server "
        f"and latency in {args.rounds} alternating turns. "
        + (
            f"before = the code at {BEFORE_COMMIT}, measured in this run."
            if use_before
            else "The code before the change was not run: see the theoretical figures."
        )
        + f"\n{harness.machine(load_before)}. {harness.NOISE}"
    )
    tables = [report(latency, measured[latency], args) for latency in args.latencies]
    harness.write_results(
        "actions",
        {
            "sessions": args.sessions,
            "clients": args.clients,
            "pool_max": args.pool_max,
            "rounds": args.rounds,
            "reference": f"code at {BEFORE_COMMIT}" if use_before else "theoretical",
            "latencies": tables,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
