"""What a webhook sends: the Standard Webhooks payload of one session event.

    {"type": "session.held", "timestamp": "2026-11-23T03:21:10.123Z",
     "data": {"seq": 42, "sessionId": ..., "accountId": ..., "kind": "held", "data": {...},
              "actor": "alice", "actorId": ..., "via": "api", "date": "...", "message": ...,
              "session": {SessionInfo, as the API answers it}}}

`data` is the event as the Server Events stream sends it (`cmd.SessionEvent`), camelCase, and
its session is the API's own `SessionInfo` JSON, so a receiver reads what a GetSession would
have answered when the delivery was queued (moments after the event; the event's own `data`
says exactly what it changed). The body is stored with the delivery, so every attempt sends
the same bytes. The signature headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) are made per attempt by `sign`; `webhook-id` is the event's seq, the same
for every attempt and redelivery, so a receiver can drop duplicates.
"""

from datetime import datetime

import orjson
from standardwebhooks import Webhook

from sessions_app.wire import dto
from sessions_app.wire.server_events import session_event_json


def event_type(kind: str) -> str:
    """The Standard Webhooks `type` of an event kind: `session.held`."""
    return f"session.{kind}"


def event_body(event, session_record: dict) -> str:
    """The JSON body for `event` (a SessionEvent) of the session `session_record`
    (`selectors.session_records`): its `data` is the event exactly as the Server Events stream
    sends it (`wire.server_events.SESSION_EVENT_MESSAGE`), one shape for programs."""
    row = {
        "seq": event.seq,
        "session_id": event.session_id,
        "account_id": session_record["account_id"],
        "kind": event.kind,
        "data": event.data,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "via": event.via,
        "date": event.date,
        "message": event.message,
    }
    message = {
        "type": event_type(event.kind),
        "timestamp": dto.wire_date(event.date),
        "data": orjson.Fragment(session_event_json(row, session_record)),
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
