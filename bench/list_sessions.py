"""Benchmark: ListSessions on a million sessions. Do its pages read off an index, in milliseconds?

Creates a scratch database (`evovoice_listbench` on the server of DATABASE_URL, or the one
named by --database), migrates it, fills it with 1,000,000 sessions in SQL (`generate_series`;
half in one account, the rest over nine others), then prints PostgreSQL's EXPLAIN ANALYZE of
the queries `selectors.session_page_for` sends (the count and the page): the first page, a deep
page (offset 10,000) and a simplified page, for a User of the big account, a User of two small
ones and an administrator (every account); `--plans` prints the plans too. The database is
dropped at the end unless --keep. Not in `make bench` (the
fill takes a minute): run it after changing the list's query or its indexes.

    .venv/bin/python bench/list_sessions.py [--sessions N] [--keep]
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
ACCOUNTS = 10


def _server_url(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _fill(connection, sessions: int) -> None:
    """Accounts a0..a9, users u0 (account a0) and admin, `sessions` sessions one second apart:
    half of them in a0, a tenth ended."""
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO sessions_app_account (id, name) "
            "SELECT 'a' || n, 'Account ' || n FROM generate_series(0, %s) n",
            [ACCOUNTS - 1],
        )
        cur.execute(
            """
            INSERT INTO sessions_app_callsession (
                id, account_id, dial_state, call_state, queue_state, channel, direction,
                hold_reason, ended, was_missed, date_created, date_last_modified, version,
                date_completed, from_address, to_address, call_sid)
            SELECT
                lpad(to_hex(n), 24, '0'),
                CASE WHEN n %% 2 = 0 THEN 'a0' ELSE 'a' || (1 + n %% %(others)s) END,
                'None',
                CASE WHEN n %% 10 = 0 THEN 'Disconnected' ELSE 'Connected' END,
                'None', 'Voice', 'Incoming', 'None', n %% 10 = 0, false,
                timestamptz '2026-01-01' + n * interval '1 second',
                timestamptz '2026-01-01' + n * interval '1 second',
                1,
                CASE WHEN n %% 10 = 0 THEN timestamptz '2026-01-01' + n * interval '1 second' END,
                '+1555' || lpad((n %% 10000000)::text, 7, '0'),
                '+15550001000',
                'CA' || lpad(to_hex(n), 32, '0')
            FROM generate_series(1, %(sessions)s) n
            """,
            {"others": ACCOUNTS - 1, "sessions": sessions},
        )
    connection.commit()
    with connection.cursor() as cur:
        connection.autocommit = True
        cur.execute("VACUUM ANALYZE sessions_app_callsession")
        connection.autocommit = False


def _explain(connection, sql: str) -> tuple[str, float, float]:
    """(the plan, planning ms, execution ms) of EXPLAIN ANALYZE."""
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines = [row[0] for row in cur.fetchall()]
    planning = float(re.search(r"Planning Time: ([\d.]+)", "\n".join(lines))[1])
    execution = float(re.search(r"Execution Time: ([\d.]+)", "\n".join(lines))[1])
    return "\n".join(lines), planning, execution


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--database", default="evovoice_listbench")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--plans", action="store_true", help="print each query's plan")
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    url = _server_url(base, args.database)
    with psycopg.connect(_server_url(base, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    try:
        os.environ.update(
            DATABASE_URL=url, DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="portal.settings"
        )
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from sessions_app import selectors
        from sessions_app.models import Role, User

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        with psycopg.connect(url) as raw:
            _fill(raw, args.sessions)
        print(f"filled {args.sessions:,} sessions in {time.perf_counter() - started:.1f} s")
        user = User.objects.create(username="u0", role=Role.USER)
        user.accounts.set(["a0"])
        two = User.objects.create(username="u1", role=Role.USER)
        two.accounts.set(["a1", "a2"])
        admin_user = User.objects.create(username="admin", role=Role.SYSTEM_ADMINISTRATOR)

        people = (
            ("a User of a0 (500,000 sessions)", user),
            ("a User of a1 and a2 (111,111)", two),
            ("an administrator (1,000,000)", admin_user),
        )
        pages = (
            ("first page of 25", {}),
            ("page 400 of 25 (offset 10,000)", {"page": 400}),
            ("simplified first page", {"simplified_paging": True}),
        )
        with psycopg.connect(url) as raw:
            for who, person in people:
                for what, paging in pages:
                    with CaptureQueriesContext(connection) as captured:
                        selectors.session_page_for(
                            user=person, filters=selectors.SessionFilters(), **paging
                        )
                    # The count and the page: the queries that read the sessions' table.
                    for query in captured.captured_queries:
                        sql = query["sql"]
                        if 'FROM "sessions_app_callsession"' not in sql:
                            continue
                        name = "the count" if "COUNT(*)" in sql else "the page"
                        _explain(raw, sql)  # warm the cache: figures of a server in use
                        plan, planning, execution = _explain(raw, sql)
                        print(
                            f"\n== {who}, {what}: {name}: "
                            f"planning {planning:.2f} ms, execution {execution:.2f} ms"
                        )
                        if args.plans:
                            print(plan)
        connection.close()
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(_server_url(base, "postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
