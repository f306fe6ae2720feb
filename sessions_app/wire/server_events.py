"""ServiceStack's Server Events protocol on the wire: the messages of `/event-stream` and their
frames. Pure data and functions, like the rest of `wire/`: no Django, no I/O.

A frame is one server-sent event whose `data` line is `[channel@]selector json`, e.g.
`data: 5f0c...@cmd.SessionEvent {"seq":42,...}`; ServiceStack's clients split it at the first
space, the selector at `@` (the channel) and at the first `.` (`cmd` and the target). The `id`
line, when there is one, is the client's resume point (`Last-Event-ID`).
"""

import orjson

from .contracts import (
    APP_GET_ACTIVE_SESSIONS_RESULT,
    NS_SESSIONS,
    OBJECT,
    SESSION_INFO,
    STRING_MAP,
    Contract,
    Field,
)
from .dto import session_info, to_wire, wire_date
from .jsonfmt import to_json_value

# The body of `cmd.SessionEvent`: one recorded event (`models.SessionEvent`) and the session
# as it is after it. `Data` is the event's own facts (changed fields as [before, after], ...).
SESSION_EVENT_MESSAGE = Contract(
    "SessionEventMessage",
    NS_SESSIONS,
    (
        Field("Seq"),
        Field("SessionId"),
        Field("AccountId"),
        Field("Kind"),
        Field("Data", STRING_MAP),
        Field("Actor", source="actor_name"),
        Field("ActorId"),
        Field("Via"),
        Field("Date"),
        Field("Message"),
        Field("Session", OBJECT, SESSION_INFO),
    ),
)

SESSION_EVENT = "cmd.SessionEvent"
ON_CONNECT = "cmd.onConnect"
ON_HEARTBEAT = "cmd.onHeartbeat"
ON_RESET = "cmd.onReset"
ACTIVE_SESSIONS = "cmd.ActiveSessions"


def frame(selector: str, body, *, event_id: int | None = None, channel: str | None = None) -> bytes:
    """One server-sent event: an optional `id:` line and the `data:` line. `body` is a dict
    (encoded here) or JSON bytes already encoded; it never contains a newline."""
    json = body if isinstance(body, bytes) else orjson.dumps(body)
    target = f"{channel}@{selector}" if channel else selector
    head = b"" if event_id is None else b"id: %d\n" % event_id
    return head + b"data: " + target.encode() + b" " + json + b"\n\n"


def session_event_json(event: dict, session_record: dict) -> bytes:
    """The `cmd.SessionEvent` body (camelCase, as the API's JSON) for an event row (`seq`,
    `session_id`, `account_id`, `kind`, `data`, `actor_id`, `actor_name`, `via`, `date`,
    `message`) and the record of its session (`selectors.session_records`)."""
    return session_event_json_with_info(event, session_info_json_value(session_record))


def session_info_json_value(session_record: dict) -> dict:
    """A session record as the JSON value of a `SessionInfo`: computed once per session and
    shared by all the events of a batch that name it."""
    return to_json_value(SESSION_INFO, session_info(session_record))


def session_event_json_with_info(event: dict, info_json: dict) -> bytes:
    """`session_event_json` with the session's JSON value already computed."""
    values = to_wire(SESSION_EVENT_MESSAGE, {**event, "session": None})
    body = to_json_value(SESSION_EVENT_MESSAGE, values)
    body["session"] = info_json
    return orjson.dumps(body)


def active_sessions_json(session_records: list[dict]) -> bytes:
    """The `cmd.ActiveSessions` body: an `AppGetActiveSessionsResult`, as the API answers it."""
    values = {"Sessions": [session_info(r) for r in session_records]}
    return orjson.dumps(to_json_value(APP_GET_ACTIVE_SESSIONS_RESULT, values))


def subscriber_meta(
    *, user_id: str, display_name: str, channels: str, created_at, is_authenticated=True
) -> dict:
    """What ServiceStack calls a subscription's Meta: strings only, as its clients expect; the
    body of `cmd.onHeartbeat` and one entry of `/event-subscribers`."""
    return {
        "userId": user_id,
        "displayName": display_name,
        "channels": channels,
        "createdAt": wire_date(created_at),
        "isAuthenticated": "true" if is_authenticated else "false",
    }
