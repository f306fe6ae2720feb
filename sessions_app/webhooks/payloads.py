"""What a webhook sends: the Standard Webhooks payload of one session event.

    {"type": "session.held", "timestamp": "2026-11-23T03:21:10.123Z",
     "data": {"seq": 42, "kind": "held", "data": {...}, "actorName": "alice", "via": "api",
              "date": "...", "session": {SessionInfo, as the API answers it}}}

Keys are camelCase and the session is the API's own `SessionInfo` JSON (the wire layer's
renderer, nulls left out), so a receiver reads what a GetSession would have answered when
the delivery was queued (moments after the event; the event's `data` says exactly what it
changed). The body is stored with the delivery, so every attempt sends the same bytes. The
signature headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`) are made per attempt
by `sign`; `webhook-id` is the event's seq, the same for every attempt and redelivery, so a
receiver can drop duplicates.
"""

from datetime import datetime

import orjson
from standardwebhooks import Webhook

from sessions_app.wire import dto
from sessions_app.wire.contracts import SESSION_INFO
from sessions_app.wire.jsonfmt import to_json_value


def event_type(kind: str) -> str:
    """The Standard Webhooks `type` of an event kind: `session.held`."""
    return f"session.{kind}"


def event_body(event, session_record: dict) -> str:
    """The JSON body for `event` (a SessionEvent) of the session `session_record`
    (`selectors.session_records`)."""
    date = dto.wire_date(event.date)
    message = {
        "type": event_type(event.kind),
        "timestamp": date,
        "data": {
            "seq": event.seq,
            "kind": event.kind,
            "data": event.data,
            "actorName": event.actor_name or None,
            "via": event.via,
            "date": date,
            "session": to_json_value(SESSION_INFO, dto.session_info(session_record)),
        },
    }
    return orjson.dumps(message).decode()


def sign(*, secret: str, message_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt, signed with the subscription's secret
    (`whsec_…`) by the `standardwebhooks` package. `timestamp` must be aware."""
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
