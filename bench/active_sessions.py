"""Benchmark: `GET /portal/active-sessions` with 500 active sessions, against a bare baseline.

What is measured: requests/s and p50/p99 latency of the real server (uvicorn + Django + DRF,
one worker, production settings) answering the active-sessions list as JSON for a signed-in
user (role User) whose account has 500 active sessions of 3 members and 10 log entries each;
and, in the same run, with the same client loop and in alternating turns, the same figures
for `baseline_server.py`, which builds the same payload from the same rows with raw SQL and
orjson (the run checks that the two payloads are identical).

Why: this is the operators' busiest call (every console polls it), and its cost grows with the
number of live sessions. The ratio to the baseline says how much of each request our framework,
ORM and wire layers take, independently of how fast this machine is.

Run (creates and migrates the database if needed, reseeds its own rows, starts and stops the
servers): `.venv/bin/python bench/active_sessions.py` (`--help` for the bounds, `--profile` to
also time and cProfile the selector, DTO and renderer in-process).
"""

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import harness
import httpx
import orjson

SESSIONS = 500
MEMBERS_PER_SESSION = 3
LOG_ENTRIES_PER_SESSION = 10

# The bench's own rows, all recognisable by these ids and names, so a rerun can wipe them.
ACCOUNT_ID = "bench-account"
ACCOUNT_NAME = "Bench Account"
TOP_CUSTOMER_ID = "bench-customer-top"
CUSTOMER_ID = "bench-customer-desk"
ENDPOINT_ID = "bench-endpoint"
USERNAME = "bench-user"
PASSWORD = "bench-password"
SEED = 2026  # the random choices below are the same on every run
NEWEST = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # the newest session's creation time

PATH = "/portal/active-sessions"
# A session's typed events, as (kind, data, actor name, via): a call's usual life.
AGENT = {"call_sid": "CA-bench-agent", "name": "Bench Agent"}
EVENTS = [
    (
        "session_started",
        {
            "direction": "Incoming",
            "channel": "Voice",
            "from_address": "+15550001111",
            "to_address": "+15550002222",
        },
        "",
        "system",
    ),
    ("queue_state_changed", {"changes": {"queue_state": ["None", "Queued"]}}, "", "system"),
    ("answered", {"changes": {"answered_by_name": [None, "Bench Agent"]}}, "", "provider"),
    ("console_data_changed", {"changes": {"console_data": [None, "T-1"]}}, "bench-user", "api"),
    ("held", {"member": AGENT, "reason": "Transferring"}, "bench-user", "portal"),
    ("resumed", {}, "bench-user", "portal"),
    (
        "member_invited",
        {"destination": "+15557654321", "from_number": "+15550002222"},
        "bench-user",
        "api",
    ),
    ("member_answered", {"member": {"name": "+15557654321"}}, "", "provider"),
    ("held", {"member": AGENT, "reason": "None"}, "bench-user", "api"),
    ("note", {"message": "Recording started (via system)"}, "", "system"),
]


def seed() -> None:
    """Replace the bench rows: one account, a two-level customer tree, one endpoint, one user
    (role User, in that account) and SESSIONS active sessions with their members and log."""
    from django.db import transaction

    from sessions_app.models import (
        CallSession,
        CallState,
        Channel,
        Customer,
        DialState,
        Direction,
        Endpoint,
        HoldReason,
        MemberCallState,
        MemberRole,
        QueueState,
        SessionEvent,
        SessionMember,
    )

    rng = random.Random(SEED)

    def phone() -> str:
        return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"

    with transaction.atomic():
        account, user = harness.seed_account(ACCOUNT_ID, ACCOUNT_NAME, USERNAME, PASSWORD)
        top = Customer.objects.create(id=TOP_CUSTOMER_ID, account=account, name="Bench Corp")
        desk = Customer.objects.create(
            id=CUSTOMER_ID, account=account, parent=top, name="Bench Help Desk"
        )
        endpoint = Endpoint.objects.create(
            id=ENDPOINT_ID, account=account, customer=desk, name="Bench Agent"
        )

        sessions, members, log = [], [], []
        for index in range(SESSIONS):
            created = NEWEST - timedelta(seconds=7 * index, milliseconds=index % 1000)
            call_state = rng.choice(
                [CallState.RINGING, CallState.CONNECTED, CallState.CONNECTED, CallState.HOLD]
            )
            held = call_state == CallState.HOLD
            answered = call_state != CallState.RINGING
            caller, caller_name = phone(), f"Caller {index:04d}"
            session = CallSession(
                id=f"bench-session-{index:04d}",
                account=account,
                customer=rng.choice([desk, desk, top]),
                endpoint=endpoint,
                dial_state=DialState.ACTIVE if answered else DialState.NONE,
                call_state=call_state,
                queue_state=rng.choice([QueueState.NONE, QueueState.CONNECTED]),
                channel=rng.choices([Channel.VOICE, Channel.CHAT], weights=[9, 1])[0],
                direction=rng.choice([Direction.INCOMING, Direction.OUTGOING]),
                hold_reason=HoldReason.TRANSFERRING if held and index % 2 else HoldReason.NONE,
                destination=phone(),
                to_address=phone(),
                from_address=caller,
                from_name=caller_name,
                answered_by_name=endpoint.name if answered else None,
                answered_by_id=endpoint.id if answered else None,
                call_sid=f"CA{index:032x}",
                console_data=json.dumps({"ticket": f"T-{index:05d}", "priority": index % 3}),
                hold_queue_name="Bench Hold" if held else None,
                held_by_user_id=user.id if held else None,
                held_at=created + timedelta(seconds=30) if held else None,
                conference_sid=f"CF{index:032x}" if index % 3 == 0 else None,
                display_name=caller_name,
                callback_number=caller,
                from_phone_number=caller,
                most_recent_participant_call_sid=f"CA{index + SESSIONS:032x}",
                ring_queue_id="bench-queue",
                date_created=created,
                date_last_modified=created + timedelta(seconds=45),
                created_by="bench",
                last_modified_by="bench",
            )
            sessions.append(session)
            parties = [
                (MemberRole.CALLER, caller, None, caller_name, MemberCallState.CONNECTED),
                (MemberRole.AGENT, endpoint.id, endpoint.id, endpoint.name, MemberCallState.HOLD),
                (MemberRole.TRANSFER, phone(), None, "Transfer target", MemberCallState.RINGING),
            ]
            for order, (role, identity, endpoint_id, name, state) in enumerate(
                parties[:MEMBERS_PER_SESSION]
            ):
                members.append(
                    SessionMember(
                        session=session,
                        identity=identity,
                        endpoint_id=endpoint_id,
                        display_name=name,
                        is_original_member=order == 0,
                        avatar_url="/static/avatar.png" if endpoint_id else None,
                        application_data={"leg": str(order)},
                        call_state=state,
                        role=role,
                        # The caller is on the session's own call (so hold/resume find
                        # it); the other parties each have a call of their own.
                        call_sid=session.call_sid if order == 0 else f"CA{index:028x}{order:04x}",
                        muted=order == 2,
                        date_created=created + timedelta(seconds=order),
                    )
                )
            for order in range(LOG_ENTRIES_PER_SESSION):
                kind, data, actor_name, via = EVENTS[order % len(EVENTS)]
                log.append(
                    SessionEvent(
                        session=session,
                        date=created + timedelta(seconds=3 * order),
                        kind=kind,
                        data=data,
                        actor_name=actor_name,
                        via=via,
                    )
                )
        CallSession.objects.bulk_create(sessions, batch_size=500)
        SessionMember.objects.bulk_create(members, batch_size=1000)
        SessionEvent.objects.bulk_create(log, batch_size=1000)


def check_sessions(response: httpx.Response) -> str | None:
    """A right answer is a 200 with exactly SESSIONS sessions."""
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    count = len(orjson.loads(response.content).get("sessions", []))
    if count != SESSIONS:
        return f"{count} sessions instead of {SESSIONS}"
    return None


def first_difference(ours, theirs, where: str = "") -> str | None:
    """Where two decoded JSON values first differ, or None if they are equal."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                return f"{where}.{key}: only in {'ours' if key in ours else 'baseline'}"
            found = first_difference(ours[key], theirs[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return f"{where}: {len(ours)} items vs {len(theirs)}"
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            found = first_difference(mine, other, f"{where}[{index}]")
            if found:
                return found
        return None
    return None if ours == theirs else f"{where}: {ours!r} vs {theirs!r}"


def warm_up(target: harness.Target, requests: int) -> object:
    """Warm the server up and return one decoded payload, for comparing the two servers."""
    harness.warm_up(url=target.url, headers=target.headers, check=target.check, requests=requests)
    with harness.http_client(target.headers) as client:
        return orjson.loads(client.get(target.url).content)


def profile_in_process(iterations: int) -> None:
    """Time the three stages of the view in this process (no HTTP), then cProfile them.

    Stages: the selector (SQL and ORM: sessions, members, log, breadcrumbs), the DTO dicts, and
    the JSON renderer. Database time is the time spent inside cursor.execute (round trips);
    GC time is the cyclic garbage collector's pauses, which land in whichever stage allocates
    when a collection is due (tens of thousands of objects per request make them frequent).
    """
    from django.db import connection

    from sessions_app import selectors
    from sessions_app.models import User
    from sessions_app.wire import contracts, dto
    from sessions_app.wire.jsonfmt import render_json

    user = User.objects.get(username=USERNAME)
    database_seconds = []
    gc_pauses = []  # (generation, seconds) of the collections during one run
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses.append((info["generation"], time.perf_counter() - gc_started[0]))

    def timed_execute(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            database_seconds.append(time.perf_counter() - started)

    def once() -> tuple[float, float, float, float, int, float, int]:
        database_seconds.clear()
        gc_pauses.clear()
        gc.callbacks.append(on_gc)
        try:
            started = time.perf_counter()
            with connection.execute_wrapper(timed_execute):
                sessions = selectors.session_records_active_for(user=user)
            selected = time.perf_counter()
            values = dto.active_sessions_result(sessions)
            built = time.perf_counter()
            render_json(contracts.APP_GET_ACTIVE_SESSIONS_RESULT, values)
            rendered = time.perf_counter()
        finally:
            gc.callbacks.remove(on_gc)
        return (
            sum(database_seconds),
            selected - started,
            built - selected,
            rendered - built,
            len(database_seconds),
            sum(seconds for _, seconds in gc_pauses),
            sum(1 for generation, _ in gc_pauses if generation == 2),
        )

    once()  # warm: imports, the connection, query compilation caches
    runs = [once() for _ in range(iterations)]

    def median_ms(column: int) -> float:
        return statistics.median(run[column] for run in runs) * 1000

    connects = []
    for _ in range(iterations):
        connection.close()
        started = time.perf_counter()
        connection.ensure_connection()
        connects.append(time.perf_counter() - started)

    print(f"\nIn-process stages (median of {iterations}, ms; no HTTP, no auth, no DRF):")
    print(f"  selector session_records      {median_ms(1):8.1f}  ({runs[0][4]} queries)")
    print(f"    of which in cursor.execute  {median_ms(0):8.1f}")
    print(f"  dto.active_sessions_result    {median_ms(2):8.1f}")
    print(f"  render_json                   {median_ms(3):8.1f}")
    print(f"  GC pauses, all stages         {median_ms(5):8.1f}  (full collections: {runs[0][6]})")
    print(f"  (a new DB connection costs    {statistics.median(connects) * 1000:8.1f})")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        once()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(20)
    print(f"\ncProfile of {iterations} runs, top 20 by own time:")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:6000])
    connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per server (default 200)")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="time cap per server (default 20)"
    )
    parser.add_argument("--concurrency", type=int, default=2, help="client threads (default 2)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating turns per server (default 4)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests (default 5)")
    parser.add_argument(
        "--profile", action="store_true", help="also time and cProfile the stages in-process"
    )
    args = parser.parse_args()
    harness.exit_cleanly_on_sigterm()

    url, database = harness.prepare_database()
    started = time.perf_counter()
    seed()
    print(
        f"seeded {SESSIONS} active sessions x ({MEMBERS_PER_SESSION} members, "
        f"{LOG_ENTRIES_PER_SESSION} log entries) in {time.perf_counter() - started:.1f}s"
    )
    if args.profile:
        profile_in_process(iterations=5)
    from django.db import connection

    connection.close()  # the servers open their own

    load_before = os.getloadavg()[0]
    env = harness.django_env(url)
    ours_server = harness.Server("ours", "portal.asgi:application", env)
    baseline_server = harness.Server(
        "baseline",
        "baseline_server:app",
        {**env, "BASELINE_ACCOUNT_ID": ACCOUNT_ID},
        app_dir=harness.BENCH_DIR,
    )
    with ours_server, baseline_server:
        ours_target = harness.Target(
            "ours",
            f"{ours_server.base_url}{PATH}",
            harness.sign_in(ours_server.base_url, USERNAME, PASSWORD),
            check_sessions,
        )
        baseline_target = harness.Target(
            "baseline",
            f"{baseline_server.base_url}{PATH}",
            {"Accept": "application/json"},
            check_sessions,
        )
        ours_payload = warm_up(ours_target, args.warmup)
        baseline_payload = warm_up(baseline_target, args.warmup)
        measured = harness.measure_in_rounds(
            [ours_target, baseline_target],
            rounds=args.rounds,
            max_requests=args.requests,
            max_seconds=args.seconds,
            concurrency=args.concurrency,
        )
    ours, baseline = measured["ours"], measured["baseline"]

    print(
        f"\nGET {PATH}: {SESSIONS} sessions, database {database}, "
        f"{args.concurrency} client threads, up to {args.requests} requests or "
        f"{args.seconds:.0f}s per server in {args.rounds} alternating turns, after "
        f"{args.warmup} warm-up requests.\n"
        f"Client and servers share this machine ({harness.machine(load_before)}): absolute "
        "figures are this machine's, compare the ratios. One server worker, so latency "
        "includes waiting behind the other client threads' requests.\n"
    )
    harness.print_comparison(ours, baseline)
    difference = first_difference(ours_payload, baseline_payload)
    print(
        "payloads: identical"
        if difference is None
        else f"payloads differ (baseline is not like for like): {difference}"
    )

    harness.write_results(
        "active_sessions",
        {
            "sessions": SESSIONS,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "ours": harness.summary(ours),
            "baseline": harness.summary(baseline),
            "payloads_identical": difference is None,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
