"""The SQLite demo (`make run`) takes concurrent writers without a 500.

`make run` serves the API and runs the traffic simulator in one process, on one SQLite file.
SQLite ignores select_for_update, so an action's transaction reads before it writes; opened the
default way, SQLite refuses that transaction's write lock at once ("database is locked", a 500)
whenever another connection is writing. portal/settings.py opens it so that writers queue
instead (IMMEDIATE transactions, WAL, a busy timeout). This test runs the demo as `make run`
does, on a SQLite file of its own, and fires a burst of API writes into it while the simulator
writes too.

The test process itself stays on PostgreSQL; only the server subprocess uses SQLite.
"""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx

from tests.conftest import ROOT, artifacts, served

WRITERS = 30
LOG_NAME = "sqlite-demo.log"


def _manage(database_url: str, *args: str) -> None:
    """`manage.py` in demo mode on that database, as `make run` calls it, except that invited
    parties never answer: no simulator thread writes while the data is being set up."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": database_url,
        "EVENTS_BACKEND": "local",
        "SIMULATED_ANSWER_DELAY": "-1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def _events_not_through_the_api(path, after_seq: int) -> int:
    with sqlite3.connect(path) as db:
        [(count,)] = db.execute(
            "SELECT count(*) FROM sessions_app_sessionevent WHERE seq > ? AND via != 'api'",
            (after_seq,),
        )
    return count


def _last_event_seq(path) -> int:
    with sqlite3.connect(path) as db:
        [(seq,)] = db.execute("SELECT max(seq) FROM sessions_app_sessionevent")
    return seq


def _write(http: httpx.Client, index: int, session_id: str) -> httpx.Response:
    """One of three writes, in turn: a hold, a PATCH, an invite."""
    if index % 3 == 0:
        return http.post(f"/sessions/{session_id}/hold", json={"reason": "Transferring"})
    if index % 3 == 1:
        return http.patch(f"/sessions/{session_id}", params={"consoleData": f"ticket-{index}"})
    return http.post(
        f"/sessions/{session_id}/conference/members",
        json={"destination": "+15557654321", "fromNumber": "+15550001111"},
    )


def test_the_sqlite_demo_answers_concurrent_writes_without_a_500(tmp_path):
    path = tmp_path / "demo.sqlite3"
    database_url = f"sqlite:///{path}"
    _manage(database_url, "migrate", "--noinput", "-v0")
    # More calls than the default so that the burst spreads over many sessions at once (on one
    # session, writers would mostly wait for each other's provider call instead of the file).
    _manage(database_url, "seed_demo", "--sessions-per-account", "40")

    with served(
        log_name=LOG_NAME,
        args=("--simulate-traffic", "--rate", "600"),  # ten simulated events a second
        DATABASE_URL=database_url,
        EVENTS_BACKEND="local",
    ) as url:
        # One sign-in for the burst: Basic auth would hash the password (PBKDF2) per request,
        # and the writes would queue on the CPU rather than on the database.
        http = httpx.Client(base_url=url, timeout=60)
        signed_in = http.post(
            "/auth/credentials", json={"userName": "acme-agent", "password": "demo-password"}
        )
        assert signed_in.status_code == 200, signed_in.text
        sessions = http.get("/portal/active-sessions").json()["sessions"]
        connected = [
            s["id"] for s in sessions if s["callState"] == "Connected" and s["channel"] == "Voice"
        ]
        assert connected, "the seeded demo has connected voice calls"
        before = _last_event_seq(path)

        start = threading.Barrier(WRITERS)
        responses: list[httpx.Response | None] = [None] * WRITERS

        def writer(index: int) -> None:
            start.wait()
            responses[index] = _write(http, index, connected[index % len(connected)])

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
        elapsed = time.monotonic() - began
        http.close()
        simulated = _events_not_through_the_api(path, before)

    log = (artifacts() / LOG_NAME).read_text()
    statuses = Counter(r.status_code for r in responses if r is not None)
    detail = f"{statuses} in {elapsed:.1f} s; see test-artifacts/{LOG_NAME}"
    assert sum(statuses.values()) == WRITERS, detail
    assert not [r.text for r in responses if r.status_code >= 500], detail
    # 200, or 409 when the simulator or another writer of the burst got to the call first (it
    # is on hold already, or has ended): the session's state refuses the action, which is the
    # API's contract. Nothing else: the writes are valid for a connected voice call.
    assert set(statuses) <= {200, 409}, detail
    assert statuses[200] > 0, detail
    assert "database is locked" not in log
    # The simulator really wrote while the burst ran (events recorded by it or its provider).
    assert simulated > 0
