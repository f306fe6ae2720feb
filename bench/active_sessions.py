"""Benchmark: `GET /portal/active-sessions` (500 active sessions) against bare baselines, with
HTTP Basic and with the `ss-id` cookie, in JSON, XML and CSV, and the portal page of the same
sessions: issue 8's figures in one run.

Measures p50/p99 latency and requests/s of the real server (uvicorn + Django + DRF, one worker,
production settings) for a User whose account has 500 active sessions (3 members and 10 log
entries each), every target in alternating turns in the same run:

  basic, cookie   the API's JSON list with HTTP Basic (as Evo Voice clients send it) and with
                  the `ss-id` cookie
  pre-encoded     `baseline_server.py` serving the same session documents pre-encoded in a
                  PostgreSQL table (raw psycopg + orjson, no auth): the least any server can do
  rows-baseline   `baseline_server.py` building the same payload from the rows with raw SQL
                  and orjson (the earlier baseline)
  xml, csv        the API's list in XML and CSV (cookie)
  page            the portal's full active-sessions page (`GET /`, the portal's session)
  gzip            the JSON list (cookie) asking for gzip, when the server compresses

Every target but `gzip` asks for no compression (`Accept-Encoding: identity`), as the baselines
never compress. The JSON payloads must be identical. `--profile` also splits the API view's
stages in-process (selector, DTO, renderer) and cProfiles them.
"""

import base64
import gzip
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import harness
import httpx
import orjson
import psycopg

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
STARTED = {"direction": "Incoming", "channel": "Voice"}
STARTED |= {"from_address": "+15550001111", "to_address": "+15550002222"}
INVITED = {"destination": "+15557654321", "from_number": "+15550002222"}
EVENTS = [
    ("session_started", STARTED, "", "system"),
    ("queue_state_changed", {"changes": {"queue_state": ["None", "Queued"]}}, "", "system"),
    ("answered", {"changes": {"answered_by_name": [None, "Bench Agent"]}}, "", "provider"),
    ("console_data_changed", {"changes": {"console_data": [None, "T-1"]}}, "bench-user", "api"),
    ("held", {"member": AGENT, "reason": "Transferring"}, "bench-user", "portal"),
    ("resumed", {}, "bench-user", "portal"),
    ("member_invited", INVITED, "bench-user", "api"),
    ("member_answered", {"member": {"name": "+15557654321"}}, "", "provider"),
    ("held", {"member": AGENT, "reason": "None"}, "bench-user", "api"),
    ("note", {"message": "Recording started (via system)"}, "", "system"),
]


def seed() -> list[str]:
    """Replace the bench rows: one account, a two-level customer tree, one endpoint, one user
    (role User, in that account) and SESSIONS active sessions with their members and log.
    Returns the ids of the Connected voice sessions (those a portal action can hold)."""
    from django.db import transaction

    from sessions_app import models as m

    rng = random.Random(SEED)

    def phone() -> str:
        return f"+1{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"

    with transaction.atomic():
        account, user = harness.seed_account(ACCOUNT_ID, ACCOUNT_NAME, USERNAME, PASSWORD)
        top = m.Customer.objects.create(id=TOP_CUSTOMER_ID, account=account, name="Bench Corp")
        desk = m.Customer.objects.create(
            id=CUSTOMER_ID, account=account, parent=top, name="Bench Help Desk"
        )
        endpoint = m.Endpoint.objects.create(
            id=ENDPOINT_ID, account=account, customer=desk, name="Bench Agent"
        )

        sessions, members, log = [], [], []
        for index in range(SESSIONS):
            created = NEWEST - timedelta(seconds=7 * index, milliseconds=index % 1000)
            states = m.CallState
            call_state = rng.choice(
                [states.RINGING, states.CONNECTED, states.CONNECTED, states.HOLD]
            )
            held = call_state == m.CallState.HOLD
            answered = call_state != m.CallState.RINGING
            caller, caller_name = phone(), f"Caller {index:04d}"
            session = m.CallSession(
                id=f"bench-session-{index:04d}",
                account=account,
                customer=rng.choice([desk, desk, top]),
                endpoint=endpoint,
                dial_state=m.DialState.ACTIVE if answered else m.DialState.NONE,
                call_state=call_state,
                queue_state=rng.choice([m.QueueState.NONE, m.QueueState.CONNECTED]),
                channel=rng.choices([m.Channel.VOICE, m.Channel.CHAT], weights=[9, 1])[0],
                direction=rng.choice([m.Direction.INCOMING, m.Direction.OUTGOING]),
                hold_reason=m.HoldReason.TRANSFERRING if held and index % 2 else m.HoldReason.NONE,
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
                (m.MemberRole.CALLER, caller, None, caller_name, m.MemberCallState.CONNECTED),
                (
                    m.MemberRole.AGENT,
                    endpoint.id,
                    endpoint.id,
                    endpoint.name,
                    m.MemberCallState.HOLD,
                ),
                (
                    m.MemberRole.TRANSFER,
                    phone(),
                    None,
                    "Transfer target",
                    m.MemberCallState.RINGING,
                ),
            ]
            for order, (role, identity, endpoint_id, name, state) in enumerate(
                parties[:MEMBERS_PER_SESSION]
            ):
                members.append(
                    m.SessionMember(
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
                    m.SessionEvent(
                        session=session,
                        date=created + timedelta(seconds=3 * order),
                        kind=kind,
                        data=data,
                        actor_name=actor_name,
                        via=via,
                    )
                )
        m.CallSession.objects.bulk_create(sessions, batch_size=500)
        m.SessionMember.objects.bulk_create(members, batch_size=1000)
        m.SessionEvent.objects.bulk_create(log, batch_size=1000)
    # Fresh statistics and no dead rows from earlier runs, as autovacuum keeps a live database.
    harness.vacuum_analyze(os.environ["DATABASE_URL"])
    voice, connected = m.Channel.VOICE, m.CallState.CONNECTED
    return [s.id for s in sessions if s.channel == voice and s.call_state == connected]


# Every SessionInfo begins with its DialState (an enum: never left out), in every JSON answer.
SESSION_MARK = b'{"dialState":'


def check_sessions(response: httpx.Response) -> str | None:
    """A right JSON answer is a 200 with exactly SESSIONS sessions (counted without parsing: the
    client shares the machine with the servers)."""
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    if response.headers.get("content-encoding"):
        return f"unasked-for {response.headers['content-encoding']} encoding"
    count = response.content.count(SESSION_MARK)
    return None if count == SESSIONS else f"{count} sessions instead of {SESSIONS}"


def check_gzipped(response: httpx.Response) -> str | None:
    """A right compressed answer: gzip (`raw_get` keeps the encoding in X-Bench-Encoding),
    the same sessions once decoded."""
    if response.headers.get("x-bench-encoding") != "gzip":
        return f"not compressed: {response.headers.get('x-bench-encoding')!r}"
    decoded = httpx.Response(response.status_code, content=gzip.decompress(response.content))
    return check_sessions(decoded)


def check_xml(response: httpx.Response) -> str | None:
    if response.status_code != 200 or not response.headers["content-type"].startswith(
        "application/xml"
    ):
        return f"status {response.status_code} {response.headers.get('content-type')}"
    count = response.content.count(b":SessionInfo>") // 2  # open and close tags
    return None if count == SESSIONS else f"{count} XML sessions instead of {SESSIONS}"


def check_csv(response: httpx.Response) -> str | None:
    if response.status_code != 200 or not response.headers["content-type"].startswith("text/csv"):
        return f"status {response.status_code} {response.headers.get('content-type')}"
    count = response.content.count(b"\r\n") - 1  # the header row
    return None if count == SESSIONS else f"{count} CSV rows instead of {SESSIONS}"


PAGE_ROW_MARK = b'<tr id="session-'


def check_page(response: httpx.Response) -> str | None:
    """The portal page is measured only if it shows every session."""
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:200]}"
    rows = response.content.count(PAGE_ROW_MARK)
    return None if rows == SESSIONS else f"{rows} rows instead of {SESSIONS}"


def raw_get(url: str) -> harness.Request:
    """A request that reads the body as sent (compressed), timing the server and the transfer
    but not the client's gunzip; the encoding moves to X-Bench-Encoding."""

    def send(client: httpx.Client, worker: int) -> httpx.Response:
        with client.stream("GET", url) as response:
            body = b"".join(response.iter_raw())
        headers = {k: v for k, v in response.headers.items() if k != "content-encoding"}
        headers["x-bench-encoding"] = response.headers.get("content-encoding", "")
        return httpx.Response(response.status_code, headers=headers, content=body)

    return send


def first_difference(ours: dict, theirs: dict) -> str | None:
    """The first session and key where two payloads differ, or None if they are equal."""
    for index, (mine, other) in enumerate(zip(ours["sessions"], theirs["sessions"], strict=True)):
        for key in sorted(set(mine) | set(other)):
            if mine.get(key) != other.get(key):
                return f"sessions[{index}].{key}: {mine.get(key)!r} vs {other.get(key)!r}"
    return None


def profile_in_process(iterations: int) -> None:
    """The view's three stages called in this process (no HTTP, auth or DRF): the selector (SQL
    and ORM), the DTO dicts and the JSON renderer; then cProfile them."""
    from django.db import connection

    from sessions_app import selectors
    from sessions_app.models import User
    from sessions_app.wire import contracts, dto
    from sessions_app.wire.jsonfmt import render_json

    user = User.objects.get(username=USERNAME)
    timer = harness.InProcess()

    def once() -> None:
        with timer.phase("selector"):
            sessions = selectors.session_records_active_for(user=user)
        with timer.phase("dto"):
            values = dto.active_sessions_result(dto.session_info(s) for s in sessions)
        with timer.phase("render"):
            render_json(contracts.APP_GET_ACTIVE_SESSIONS_RESULT, values)

    medians = timer.medians(once, iterations)
    stages = ("selector", "dto", "render")
    medians["gc"] = sum(medians.get(f"{stage}_gc", 0) for stage in stages)
    medians["all_full_gcs"] = sum(medians.get(f"{stage}_full_gcs", 0) for stage in stages)
    connects = []
    for _ in range(iterations):  # what the server's connection pool saves
        started = time.perf_counter()
        psycopg.connect(os.environ["DATABASE_URL"]).close()
        connects.append(time.perf_counter() - started)
    medians["connect"] = statistics.median(connects) * 1000
    print(f"\nIn-process stages (median of {iterations}, ms; no HTTP, no auth, no DRF):")
    harness.print_table(
        {"median": medians},
        [
            ("selector session_records", "selector"),
            ("  of which in cursor.execute", "selector_db"),
            ("  queries", "selector_queries"),
            ("dto.active_sessions_result", "dto"),
            ("render_json", "render"),
            ("GC pauses, all stages", "gc"),
            ("  full collections", "all_full_gcs"),
            ("a new DB connection (no pool)", "connect"),
        ],
    )
    harness.print_profile(once, iterations, "runs of the three stages")
    connection.close()


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def fill_pre_encoded(url: str, payload: bytes) -> None:
    """The pre-encoded baseline's table: each session of `payload` (our API's answer) as its own
    JSON text, in the list's order, stored as our documents are (text, lz4 where PostgreSQL
    has it: see migration 0010), so that only what the servers do differs."""
    documents = [orjson.dumps(s).decode() for s in orjson.loads(payload)["sessions"]]
    table = harness.PRE_ENCODED_TABLE
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (account_id text, position int, document text NOT NULL, "
            "PRIMARY KEY (account_id, position))"
        )
        try:
            conn.execute(f"ALTER TABLE {table} ALTER COLUMN document SET COMPRESSION lz4")
        except psycopg.errors.FeatureNotSupported:
            pass  # pglz, as migration 0010 leaves our documents then
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {table} VALUES (%s, %s, %s)",
                [(ACCOUNT_ID, n, document) for n, document in enumerate(documents)],
            )
        conn.execute(f"VACUUM ANALYZE {table}")


# (target, reference, what the ratio says); the goals where it sets one.
RATIOS = [
    ("basic", "pre-encoded", "API list, Basic / bare app serving pre-encoded documents (goal 1.5)"),
    ("cookie", "pre-encoded", "API list, cookie / bare app serving pre-encoded documents"),
    ("basic", "rows-baseline", "API list, Basic / bare app building it from the rows"),
    ("basic", "cookie", "a Basic request / a cookie request"),
    ("page", "cookie", "portal page / API JSON of the same sessions (goal 2)"),
    ("gzip", "cookie", "API list gzip-compressed / uncompressed (transfer on loopback)"),
]


def print_report(measured: dict[str, harness.Measurement]) -> None:
    """One row per target (p50, p99, requests/s, size), then the ratios of p50 and p99."""
    print(f"{'':<16}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>8}{'count':>7}{'KiB':>7}")
    for name, m in measured.items():
        print(
            f"{name:<16}{m.latency_ms(50):>9.1f}{m.latency_ms(99):>9.1f}"
            f"{m.requests_per_second:>8.1f}{m.requests:>7}{m.response_bytes / 1024:>7.0f}"
        )
    print(f"\n{'ratio':<28}{'p50':>7}{'p99':>7}")
    for a, b, meaning in RATIOS:
        if a in measured and b in measured:
            p50 = measured[a].latency_ms(50) / measured[b].latency_ms(50)
            p99 = measured[a].latency_ms(99) / measured[b].latency_ms(99)
            print(f"{a + ' / ' + b:<28}{p50:>6.2f}x{p99:>6.2f}x  {meaning}")
    print("(> 1 means the first is slower)")


def main() -> int:
    parser = harness.parser(__doc__)
    add = parser.add_argument
    add("--requests", type=int, default=200, help="at most, per target (default 200)")
    add("--seconds", type=float, default=20.0, help="time cap per target (default 20)")
    add("--concurrency", type=int, default=2, help="client threads (default 2)")
    add("--rounds", type=int, default=4, help="alternating turns per target (default 4)")
    add("--warmup", type=int, default=5, help="warm-up requests per target (default 5)")
    add("--only", help="comma-separated targets to measure (default: all)")
    add("--profile", action="store_true", help="also split and cProfile the stages in-process")
    args = parser.parse_args()
    harness.exit_cleanly_on_sigterm()

    url, database = harness.prepare_database()
    started = time.perf_counter()
    seed()
    print(f"seeded {SESSIONS} active sessions in {time.perf_counter() - started:.1f}s")
    if args.profile:
        profile_in_process(iterations=5)
    from django.db import connection

    connection.close()  # the servers open their own

    load_before = os.getloadavg()[0]
    env = harness.django_env(url)
    ours_server = harness.Server("ours", "portal.asgi:application", env)
    baseline_env = {**env, "BASELINE_ACCOUNT_ID": ACCOUNT_ID}
    baseline_server = harness.Server(
        "baseline", "baseline_server:app", baseline_env, app_dir=harness.BENCH_DIR
    )
    with ours_server, baseline_server:
        ours, bare = ours_server.base_url, baseline_server.base_url
        # Uncompressed unless the target says otherwise: the baselines never compress.
        plain = {"Accept": "application/json", "Accept-Encoding": "identity"}
        cookie = {**harness.sign_in(ours, USERNAME, PASSWORD), **plain}
        # Evo Voice clients send Basic on every request: the server checks the password once,
        # then reuses the check (its first request is in the warm-up).
        basic = {**plain, "Authorization": _basic(USERNAME, PASSWORD)}
        portal = {**harness.portal_sign_in(ours, USERNAME, PASSWORD), "Accept-Encoding": "identity"}
        gzipped = {**cookie, "Accept-Encoding": "gzip"}
        api = f"{ours}{PATH}"
        targets = [
            harness.Target("basic", api, basic, check_sessions),
            harness.Target("cookie", api, cookie, check_sessions),
            harness.Target("pre-encoded", f"{bare}/pre-encoded{PATH}", plain, check_sessions),
            harness.Target("rows-baseline", f"{bare}{PATH}", plain, check_sessions),
            harness.Target("xml", api, {**cookie, "Accept": "application/xml"}, check_xml),
            harness.Target("csv", api, {**cookie, "Accept": "text/csv"}, check_csv),
            harness.Target("page", f"{ours}/", portal, check_page),
            harness.Target("gzip", api, gzipped, check_gzipped, request=raw_get(api)),
        ]
        ours_payload = targets[0].warm_up(args.warmup).content
        fill_pre_encoded(url, ours_payload)
        with harness.http_client(gzipped) as client:
            if raw_get(api)(client, 0).headers["x-bench-encoding"] != "gzip":
                targets.pop()  # a server that does not compress (before issue 8, item 6)
        if args.only:
            wanted = set(args.only.split(","))
            targets = [target for target in targets if target.name in wanted]
        payloads = {target.name: target.warm_up(args.warmup).content for target in targets}
        measured = harness.measure_in_rounds(
            targets,
            rounds=args.rounds,
            max_requests=args.requests,
            max_seconds=args.seconds,
            concurrency=args.concurrency,
        )

    print(
        f"\nGET {PATH} and the portal page: {SESSIONS} sessions, database {database}, "
        f"{args.concurrency} client threads, up to {args.requests} requests or {args.seconds:g}s "
        f"per target in {args.rounds} alternating turns after {args.warmup} warm-up requests; "
        f"one server worker, so latency includes queueing behind the other threads' requests.\n"
        f"{harness.machine(load_before)}. {harness.NOISE}\n"
    )
    print_report(measured)
    differences = {
        name: first_difference(orjson.loads(ours_payload), orjson.loads(payloads[name]))
        for name in ("cookie", "pre-encoded", "rows-baseline")
        if name in payloads
    }
    for name, difference in differences.items():
        same = "identical" if difference is None else f"DIFFER at {difference}"
        print(f"payload of {name}: {same} to basic's")
    harness.write_results(
        "active_sessions",
        {
            "sessions": SESSIONS,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            **{name: m.summary() for name, m in measured.items()},
            "ratios_p50": {
                f"{a}/{b}": round(measured[a].latency_ms(50) / measured[b].latency_ms(50), 2)
                for a, b, _ in RATIOS
                if a in measured and b in measured
            },
            "payloads_identical": all(d is None for d in differences.values()),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
