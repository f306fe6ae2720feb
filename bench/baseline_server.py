"""The baseline for `active_sessions.py`: the same payload with as little machinery as possible.

A bare ASGI app (no framework) answering `GET /portal/active-sessions` with the active sessions
of one account (`BASELINE_ACCOUNT_ID`), built from the same rows our API reads: the sessions not
ended joined with their account, customer and endpoint names, their members, their log, and the
customer breadcrumbs, in four plain SQL queries on one persistent psycopg connection, encoded
with orjson in the same camelCase shape (nulls omitted, dates as `...T..:..:..mmmZ`).

What it leaves out, on purpose, is what our server pays for on top: authentication, permission
scoping, Django's request/response cycle, DRF, ORM model instances, and the contract-driven
renderer. The gap between the two is the price of those. The log's messages are rendered from
the typed events with the app's own `eventlog.render_message` (that is part of the payload,
not machinery), so Django is set up for that one import and nothing else. It does its database
work on the event loop (one connection serves one request at a time anyway), and it assumes
the app's default table names (`sessions_app_<model>`).

Run by `active_sessions.py` as `uvicorn baseline_server:app --app-dir bench`.
"""

import os
from collections import defaultdict

import django
import orjson
import psycopg
from psycopg.types.json import set_json_loads

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from sessions_app.eventlog import render_message  # noqa: E402 - needs the settings above


def _utc(column: str) -> str:
    """SQL for a timestamp as the wire writes it: UTC, milliseconds (truncated), `Z`."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


# Columns are aliased to their JSON names, so a row becomes a dict by zipping with the names.
SESSIONS_SQL = f"""
SELECT
    s.dial_state AS "dialState",
    s.call_state AS "callState",
    s.queue_state AS "queueState",
    s.account_id AS "accountId",
    a.name AS "accountName",
    s.customer_id AS "customerId",
    c.path AS "customerPath",
    c.name AS "customerName",
    s.endpoint_id AS "endpointId",
    e.name AS "endpointName",
    {_utc("s.date_completed")} AS "dateCompleted",
    s.destination AS "destination",
    s.to_address AS "toAddress",
    s.from_address AS "fromAddress",
    s.from_name AS "fromName",
    s.answered_by_name AS "answeredByName",
    s.queue_member_id AS "queueMemberId",
    s.channel AS "channel",
    s.ended AS "ended",
    s.outcome AS "outcome",
    s.call_sid AS "callSid",
    s.console_data AS "consoleData",
    s.hold_queue_name AS "holdQueueName",
    s.held_by_user_id AS "heldByUserId",
    s.hold_reason AS "holdReason",
    s.conference_sid AS "conferenceSid",
    s.display_name AS "displayName",
    s.callback_number AS "callbackNumber",
    s.answered_by_id AS "answeredById",
    s.direction AS "direction",
    s.from_phone_number AS "fromPhoneNumber",
    s.most_recent_participant_call_sid AS "mostRecentParticipantCallSid",
    s.was_missed AS "wasMissed",
    s.ring_queue_id AS "ringQueueId",
    s.id AS "id",
    {_utc("s.date_created")} AS "dateCreated",
    {_utc("s.date_last_modified")} AS "dateLastModified",
    s.created_by AS "createdBy",
    s.last_modified_by AS "lastModifiedBy"
FROM sessions_app_callsession s
JOIN sessions_app_account a ON a.id = s.account_id
LEFT JOIN sessions_app_customer c ON c.id = s.customer_id
LEFT JOIN sessions_app_endpoint e ON e.id = s.endpoint_id
WHERE s.account_id = %s AND NOT s.ended
ORDER BY s.date_created DESC, s.id DESC
"""

MEMBERS_SQL = """
SELECT
    session_id AS "sessionId",
    identity AS "identity",
    endpoint_id AS "endpointId",
    display_name AS "displayName",
    is_original_member AS "isOriginalMember",
    avatar_url AS "avatarUrl",
    application_data AS "applicationData",
    call_state AS "callState",
    role AS "role",
    call_sid AS "callSid",
    muted AS "muted"
FROM sessions_app_sessionmember
WHERE session_id = ANY(%s)
ORDER BY session_id, date_created, id
"""

EVENTS_SQL = f"""
SELECT session_id, {_utc("date")}, kind, data, actor_name, via
FROM sessions_app_sessionevent
WHERE session_id = ANY(%s)
ORDER BY session_id, seq
"""

CUSTOMER_NAMES_SQL = "SELECT id, name FROM sessions_app_customer WHERE id = ANY(%s)"


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


class App:
    """The ASGI app: one route, one persistent connection opened on the first request."""

    def __init__(self, database_url: str, account_id: str):
        self.database_url = database_url
        self.account_id = account_id
        self.conn: psycopg.Connection | None = None

    def connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.database_url, autocommit=True)
            set_json_loads(orjson.loads, self.conn)
        return self.conn

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.conn is not None:
                        self.conn.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/portal/active-sessions":
            status, body = 200, active_sessions(self.connection(), self.account_id)
        else:
            status, body = 404, b'{"responseStatus":{"errorCode":"NotFound"}}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})


app = App(os.environ["DATABASE_URL"], os.environ["BASELINE_ACCOUNT_ID"])
