"""The baselines of `active_sessions.py`: its payload with as little machinery as possible.

A bare ASGI app on one persistent psycopg connection, with two routes:

`GET /portal/active-sessions` builds the active sessions of one account (BASELINE_ACCOUNT_ID)
from the same rows our API reads, in four plain SQL queries, encoded with orjson in the same
camelCase shape (nulls omitted, dates as `...T..:..:..mmmZ`). It leaves out what our server pays
for on top: authentication, scoping, Django's request cycle, DRF, ORM instances and the
contract-driven renderer. Log messages come from the app's own `eventlog.render_message`
(payload, not machinery: Django is set up for that import alone).

`GET /pre-encoded/portal/active-sessions` serves the same sessions already encoded: one text
document per session in a table of its own (PRE_ENCODED_TABLE, filled by active_sessions.py
from our API's answer), read in one query and joined with orjson. The least a server can do to
answer the list from PostgreSQL: issue 8's "bare app serving pre-encoded documents".

Run by active_sessions.py as `uvicorn baseline_server:app`.
"""

import os
from collections import defaultdict

import django
import orjson
import psycopg
from harness import PRE_ENCODED_TABLE
from psycopg.types.json import set_json_loads

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from sessions_app.eventlog import render_message  # noqa: E402 - needs the settings above


def _utc(column: str) -> str:
    """SQL for a timestamp as the wire writes it: UTC, milliseconds (truncated), `Z`."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def _select(columns: str) -> str:
    """Columns aliased to their JSON names (a row becomes a dict by zipping with the names):
    `name` is `s.name AS "name"` in camelCase, `x.name:alias` is `x.name AS "alias"`, and
    dates are written as the wire writes them."""
    selected = []
    for column in columns.split():
        source, _, alias = column.partition(":")
        source = source if "." in source else f"s.{source}"
        first, *rest = source.split(".")[1].split("_")
        alias = alias or first + "".join(word.title() for word in rest)
        selected.append(f'{_utc(source) if "date_" in source else source} AS "{alias}"')
    return ",\n    ".join(selected)


# The columns, in the wire's order.
SESSION_COLUMNS = """
dial_state call_state queue_state account_id a.name:accountName customer_id c.path:customerPath
c.name:customerName endpoint_id e.name:endpointName date_completed destination to_address
from_address from_name answered_by_name queue_member_id channel ended outcome call_sid
console_data hold_queue_name held_by_user_id hold_reason conference_sid display_name
callback_number answered_by_id direction from_phone_number most_recent_participant_call_sid
was_missed ring_queue_id id date_created date_last_modified created_by last_modified_by
"""
MEMBER_COLUMNS = """
session_id identity endpoint_id display_name is_original_member avatar_url application_data
call_state role call_sid muted
"""

SESSIONS_SQL = f"""
SELECT {_select(SESSION_COLUMNS)}
FROM sessions_app_callsession s
JOIN sessions_app_account a ON a.id = s.account_id
LEFT JOIN sessions_app_customer c ON c.id = s.customer_id
LEFT JOIN sessions_app_endpoint e ON e.id = s.endpoint_id
WHERE s.account_id = %s AND NOT s.ended
ORDER BY s.date_created DESC, s.id DESC
"""

MEMBERS_SQL = f"""
SELECT {_select(MEMBER_COLUMNS)}
FROM sessions_app_sessionmember s
WHERE s.session_id = ANY(%s)
ORDER BY s.session_id, s.date_created, s.id
"""

EVENTS_SQL = f"""
SELECT session_id, {_utc("date")}, kind, data, actor_name, via
FROM sessions_app_sessionevent
WHERE session_id = ANY(%s)
ORDER BY session_id, seq
"""

CUSTOMER_NAMES_SQL = "SELECT id, name FROM sessions_app_customer WHERE id = ANY(%s)"

PRE_ENCODED_SQL = f"""
SELECT document FROM {PRE_ENCODED_TABLE} WHERE account_id = %s ORDER BY position
"""


def _dicts(cursor: psycopg.Cursor) -> list[dict]:
    """Rows as {json name: value}, nulls omitted (as ServiceStack writes them)."""
    names = [column.name for column in cursor.description]
    return [{k: v for k, v in zip(names, row, strict=True) if v is not None} for row in cursor]


def _by_session(rows: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.pop("sessionId")].append(row)
    return grouped


def active_sessions(conn: psycopg.Connection, account_id: str) -> bytes:
    """The response body: the account's active sessions with their members, log and breadcrumbs."""
    with conn.cursor() as cursor:
        sessions = _dicts(cursor.execute(SESSIONS_SQL, [account_id]))
        ids = [session["id"] for session in sessions]
        members = _by_session(_dicts(cursor.execute(MEMBERS_SQL, [ids])))
        log = defaultdict(list)
        for session_id, date, kind, data, actor_name, via in cursor.execute(EVENTS_SQL, [ids]):
            message = render_message(kind, data, actor_name, via)
            log[session_id].append({"date": date, "message": message})
        # A customer's path lists its ancestors' ids top-down: "/top/child/this/".
        paths = [session.pop("customerPath", "") for session in sessions]
        customer_ids = list({cid for path in paths for cid in path.split("/") if cid})
        names = dict(cursor.execute(CUSTOMER_NAMES_SQL, [customer_ids]).fetchall())
    for session, path in zip(sessions, paths, strict=True):
        session["customerBreadcrumb"] = [
            {"id": cid, "name": names[cid]} for cid in path.split("/") if cid in names
        ]
        session["log"] = log.get(session["id"], [])
        session["members"] = members.get(session["id"], [])
    return orjson.dumps({"sessions": sessions})


def pre_encoded_sessions(conn: psycopg.Connection, account_id: str) -> bytes:
    """The response body from the stored documents: one query, no decoding, one orjson call."""
    with conn.cursor() as cursor:
        documents = [row[0] for row in cursor.execute(PRE_ENCODED_SQL, [account_id])]
    return orjson.dumps({"sessions": [orjson.Fragment(document) for document in documents]})


ROUTES = {
    "/portal/active-sessions": active_sessions,
    "/pre-encoded/portal/active-sessions": pre_encoded_sessions,
}


class App:
    """The ASGI app: two routes, one persistent connection opened on the first request (and
    closed with the process). Lifespan events are not answered, which uvicorn accepts."""

    def __init__(self, database_url: str, account_id: str):
        self.database_url = database_url
        self.account_id = account_id
        self.conn: psycopg.Connection | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        if self.conn is None:
            self.conn = psycopg.connect(self.database_url, autocommit=True)
            set_json_loads(orjson.loads, self.conn)
        route = ROUTES.get(scope["path"]) if scope["method"] == "GET" else None
        if route is not None:
            status, body = 200, route(self.conn, self.account_id)
        else:
            status, body = 404, b'{"responseStatus":{"errorCode":"NotFound"}}'
        headers = [(b"content-type", b"application/json; charset=utf-8")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


app = App(os.environ["DATABASE_URL"], os.environ["BASELINE_ACCOUNT_ID"])
