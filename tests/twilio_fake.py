"""A stateful fake of Twilio's REST API (2010-04-01), served over real HTTP on loopback.

It keeps calls, conferences and participants, answers in Twilio's JSON shapes and error
format (`{"code", "message", "more_info", "status"}`), checks HTTP Basic credentials, and
records every request (method, path, query, form parameters in order, credentials) so tests
can assert exactly what the provider sent. What Twilio would do on its own (a callee rings,
answers, hangs up; a caller dials in) is driven by the test (`ring`, `answer`, `hang_up`,
`incoming_call`, ...), and the status callbacks Twilio would send are queued, signed with the
auth token by the library's own `RequestValidator`, for the test to deliver
(`take_callbacks`): the app is called from the test's thread, never from the server's.

Only what the provider uses is modelled: Calls (fetch, update with Status or Twiml),
Conferences (list by FriendlyName and Status, fetch, update Status=completed), Participants
(create by conference SID or friendly name, update Hold/Muted, delete).
"""

import base64
import itertools
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator

API = "/2010-04-01"
TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
DESTINATION = re.compile(r"^(\+[1-9]\d{1,14}|sips?:\S+@\S+|client:[\w.@-]+)$")


def sid(prefix: str) -> str:
    """A SID in Twilio's shape."""
    return prefix + secrets.token_hex(16)


def _now() -> str:
    return format_datetime(datetime.now(UTC))


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    auth: tuple[str, str] | None
    headers: dict


@dataclass
class Callback:
    """A status callback Twilio would send: POST `url` with `params` and `headers`."""

    url: str
    params: dict
    headers: dict


@dataclass
class _Failure:
    status: int
    code: int | None
    message: str
    method: str | None
    match: str | None
    stall: float = 0.0


@dataclass
class _Conference:
    sid: str
    name: str
    status: str = "init"
    callback: str | None = None
    events: list[str] = field(default_factory=list)
    sequence: itertools.count = field(default_factory=itertools.count)
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)


class TwilioError(Exception):
    """An error answer of the fake, in Twilio's shape."""

    def __init__(self, status: int, code: int | None, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


class FakeTwilio:
    """The fake: `start()` it, point `TWILIO_API_BASE_URL` at `url`, `stop()` it."""

    def __init__(self, *, account_sid: str, auth_token: str, api_key: tuple[str, str] = None):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_key = api_key
        self.calls: dict[str, dict] = {}
        self.conferences: dict[str, _Conference] = {}
        self.participants: dict[tuple[str, str], dict] = {}  # (conference, call) -> participant
        self.requests: list[Recorded] = []
        self.outbox: list[Callback] = []
        # Where Twilio sends the status of incoming calls (the number's "call status changes").
        self.number_status_callback: str | None = None
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- life ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeTwilio":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- what tests ask ---------------------------------------------------------------------

    def requests_to(self, method: str, path_part: str = "") -> list[Recorded]:
        """The recorded requests with `method` whose path contains `path_part`."""
        return [r for r in self.requests if r.method == method and path_part in r.path]

    def take_callbacks(self) -> list[Callback]:
        """The queued callbacks, oldest first; the queue is emptied."""
        with self._lock:
            taken, self.outbox = self.outbox, []
        return taken

    def fail_next(
        self,
        status: int,
        code: int | None,
        message: str,
        *,
        method: str | None = None,
        match: str | None = None,
        stall: float = 0.0,
    ) -> None:
        """The next request (with `method`, whose path contains `match`) answers this error,
        after `stall` seconds (a stall longer than the client's timeout is a timeout)."""
        self._failures.append(_Failure(status, code, message, method, match, stall))

    def sign(self, url: str, params: dict) -> str:
        """`X-Twilio-Signature` of a request to `url` with `params`, as Twilio computes it."""
        return RequestValidator(self.auth_token).compute_signature(url, params)

    def participant(self, call_sid: str) -> dict | None:
        """The participant a call is, in whatever conference."""
        return next((p for (_, c), p in self.participants.items() if c == call_sid), None)

    def conference_named(self, name: str) -> _Conference | None:
        """The newest conference with this friendly name."""
        found = [c for c in self.conferences.values() if c.name == name]
        return found[-1] if found else None

    # --- what the world does --------------------------------------------------------------------

    def incoming_call(self, *, from_: str, to: str, caller_name: str | None = None) -> dict:
        """A caller dials `to`: the new call, ringing. Returns the Voice URL request's
        parameters (the test posts them to the app, signed)."""
        with self._lock:
            call = self._new_call(**{"from": from_}, to=to, direction="inbound", status="ringing")
            if self.number_status_callback:
                call["status_callback"] = self.number_status_callback
                call["status_callback_events"] = ["completed"]
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": "2010-04-01",
                "CallSid": call["sid"],
                "CallStatus": "ringing",
                "Called": to,
                "Caller": from_,
                "Direction": "inbound",
                "From": from_,
                "To": to,
            }
            if caller_name:
                params["CallerName"] = caller_name
            return params

    def run_twiml(self, call_sid: str, twiml: str) -> None:
        """The call runs the TwiML the app answered (what Twilio does with a webhook's answer)."""
        with self._lock:
            self._execute(self.calls[call_sid], twiml)

    def ring(self, call_sid: str) -> None:
        """The dialled phone rings."""
        with self._lock:
            call = self.calls[call_sid]
            call["status"] = "ringing"
            participant = self.participant(call_sid)
            if participant:
                participant["status"] = "ringing"
            self._call_event(call, "ringing")

    def answer(self, call_sid: str) -> None:
        """The dialled phone answers; a participant joins its conference."""
        with self._lock:
            call = self.calls[call_sid]
            call["status"] = "in-progress"
            call["start_time"] = _now()
            self._call_event(call, "answered")
            participant = self.participant(call_sid)
            if participant:
                self._join(self.conferences[participant["conference_sid"]], call, participant)

    def hang_up(self, call_sid: str) -> None:
        """The far end hangs up (a ringing phone that is declined: busy)."""
        with self._lock:
            call = self.calls[call_sid]
            self._end_call(call, "completed" if call["status"] == "in-progress" else "busy")

    def drop(self, call_sid: str) -> None:
        """The call ends and no callback says so (a callback lost on the way)."""
        with self._lock:
            call = self.calls[call_sid]
            call["status"] = "completed"
            call["status_callback"] = None
            for key in [k for k in self.participants if k[1] == call_sid]:
                del self.participants[key]

    # --- state changes ----------------------------------------------------------------------

    def _new_call(self, **values) -> dict:
        call = {
            "sid": sid("CA"),
            "account_sid": self.account_sid,
            "date_created": _now(),
            "date_updated": _now(),
            "start_time": None,
            "end_time": None,
            "status_callback": None,
            "status_callback_events": [],
            "sequence": itertools.count(),
            "redirected_to": None,
            **values,
        }
        self.calls[call["sid"]] = call
        return call

    def _call_event(self, call: dict, event: str) -> None:
        """Queue the call's status callback for `event` if it asked for it."""
        if not call["status_callback"] or event not in call["status_callback_events"]:
            return
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call["sid"],
            "CallStatus": call["status"],
            "Direction": call["direction"],
            "From": call["from"],
            "To": call["to"],
            "Called": call["to"],
            "Caller": call["from"],
            "SequenceNumber": str(next(call["sequence"])),
            "Timestamp": _now(),
            "CallbackSource": "call-progress-events",
        }
        self._queue(call["status_callback"], params)

    def _conference_event(self, conference: _Conference, event: str, **values) -> None:
        short = event.removeprefix("participant-").removeprefix("conference-")
        short = {"unhold": "hold", "unmute": "mute"}.get(short, short)
        if not conference.callback or short not in conference.events:
            return
        params = {
            "AccountSid": self.account_sid,
            "ConferenceSid": conference.sid,
            "FriendlyName": conference.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(next(conference.sequence)),
            "Timestamp": _now(),
            **{k: v for k, v in values.items() if v is not None},
        }
        self._queue(conference.callback, params)

    def _participant_event(self, conference: _Conference, participant: dict, event: str):
        self._conference_event(
            conference,
            event,
            CallSid=participant["call_sid"],
            Muted=_bool(participant["muted"]),
            Hold=_bool(participant["hold"]),
            Coaching=_bool(participant["coaching"]),
            EndConferenceOnExit=_bool(participant["end_conference_on_exit"]),
            StartConferenceOnEnter=_bool(participant["start_conference_on_enter"]),
        )

    def _queue(self, url: str, params: dict) -> None:
        headers = {
            "X-Twilio-Signature": self.sign(url, params),
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        self.outbox.append(Callback(url, params, headers))

    def _join(self, conference: _Conference, call: dict, participant: dict) -> None:
        participant["status"] = "connected"
        if participant["start_conference_on_enter"] and conference.status == "init":
            conference.status = "in-progress"
            self._conference_event(conference, "conference-start")
        self._participant_event(conference, participant, "participant-join")

    def _leave(self, call_sid: str) -> None:
        for key in [k for k in self.participants if k[1] == call_sid]:
            participant = self.participants.pop(key)
            conference = self.conferences[key[0]]
            if participant["status"] == "connected":
                self._participant_event(conference, participant, "participant-leave")
            if participant["end_conference_on_exit"] and participant["status"] == "connected":
                self._end_conference(conference, ending=call_sid)

    def _end_call(self, call: dict, status: str) -> None:
        if call["status"] in TERMINAL:
            return
        call["status"] = status
        call["end_time"] = _now()
        self._leave(call["sid"])
        self._call_event(call, "completed")

    def _end_conference(self, conference: _Conference, ending: str | None = None) -> None:
        if conference.status == "completed":
            return
        conference.status = "completed"
        for key in [k for k in self.participants if k[0] == conference.sid]:
            self._end_call(self.calls[key[1]], "completed")
        self._conference_event(conference, "conference-end", CallSidEndingConference=ending)

    def _execute(self, call: dict, twiml: str) -> None:
        """Run TwiML on a live call: `<Dial><Conference>` joins it, `<Dial>` anything else
        leaves the conference for that destination, `<Hangup/>` and `<Reject/>` end it."""
        root = ElementTree.fromstring(twiml)
        dial = root.find("Dial")
        if root.find("Hangup") is not None or root.find("Reject") is not None:
            self._end_call(call, "completed")
            return
        if call["status"] in ("ringing", "queued"):
            call["status"] = "in-progress"
            call["start_time"] = _now()
        if dial is None:
            return
        self._leave(call["sid"])
        element = dial.find("Conference")
        if element is None:
            target = next(iter(dial), None)
            call["redirected_to"] = (target.text if target is not None else dial.text or "").strip()
            return
        conference = self._conference_by_name(element.text.strip())
        if conference.callback is None and element.get("statusCallback"):
            conference.callback = element.get("statusCallback")
            conference.events = element.get("statusCallbackEvent", "").split()
        participant = self._new_participant(
            conference,
            call,
            start_conference_on_enter=element.get("startConferenceOnEnter", "true") == "true",
            end_conference_on_exit=element.get("endConferenceOnExit", "false") == "true",
        )
        self._join(conference, call, participant)

    def _conference_by_name(self, name: str) -> _Conference:
        live = [c for c in self.conferences.values() if c.name == name and c.status != "completed"]
        if live:
            return live[0]
        conference = _Conference(sid=sid("CF"), name=name)
        self.conferences[conference.sid] = conference
        return conference

    def _new_participant(self, conference: _Conference, call: dict, **values) -> dict:
        participant = {
            "account_sid": self.account_sid,
            "call_sid": call["sid"],
            "conference_sid": conference.sid,
            "label": None,
            "call_sid_to_coach": None,
            "coaching": False,
            "muted": False,
            "hold": False,
            "start_conference_on_enter": True,
            "end_conference_on_exit": False,
            "status": "queued",
            "date_created": _now(),
            "date_updated": _now(),
            **values,
        }
        self.participants[(conference.sid, call["sid"])] = participant
        return participant

    # --- the HTTP API -------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes, headers: dict) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        form = parse_qsl(body.decode(), keep_blank_values=True) if body else []
        record = Recorded(
            method=method,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            form=form,
            auth=_basic(headers.get("Authorization")),
            headers=headers,
        )
        with self._lock:
            self.requests.append(record)
            failure = self._take_failure(method, parts.path)
        if failure is not None:
            if failure.stall:
                time.sleep(failure.stall)
            return failure.status, TwilioError(failure.status, failure.code, failure.message).body()
        with self._lock:
            try:
                return self._route(method, parts.path, dict(record.query), form, record.auth)
            except TwilioError as error:
                return error.status, error.body()

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if (failure.method in (None, method)) and (failure.match or "") in path:
                self._failures.remove(failure)
                return failure
        return None

    def _route(self, method, path, query, form, auth) -> tuple[int, dict]:
        if auth not in ((self.account_sid, self.auth_token), self.api_key):
            raise TwilioError(401, 20003, "Authenticate")
        prefix = f"{API}/Accounts/{self.account_sid}/"
        if not path.startswith(prefix) or not path.endswith(".json"):
            raise TwilioError(404, 20404, f"The requested resource {path} was not found")
        parts = path[len(prefix) : -len(".json")].split("/")
        values = dict(form)
        events = [v for k, v in form if k == "StatusCallbackEvent"]
        conference_events = [v for k, v in form if k == "ConferenceStatusCallbackEvent"]
        match (method, parts):
            case ("GET", ["Calls", call_sid]):
                return 200, self._call_json(self._call(path, call_sid))
            case ("POST", ["Calls", call_sid]):
                return 200, self._update_call(self._call(path, call_sid), values)
            case ("GET", ["Conferences"]):
                return 200, self._list_conferences(path, query)
            case ("GET", ["Conferences", conference_sid]):
                return 200, self._conference_json(self._conference(path, conference_sid))
            case ("POST", ["Conferences", conference_sid]):
                conference = self._conference(path, conference_sid)
                if values.get("Status") == "completed":
                    self._end_conference(conference)
                return 200, self._conference_json(conference)
            case ("POST", ["Conferences", conference, "Participants"]):
                return 201, self._create_participant(
                    path, conference, values, events, conference_events
                )
            case ("POST", ["Conferences", conference_sid, "Participants", call_sid]):
                participant = self._participant_at(path, conference_sid, call_sid)
                return 200, self._update_participant(participant, values)
            case ("DELETE", ["Conferences", conference_sid, "Participants", call_sid]):
                self._participant_at(path, conference_sid, call_sid)
                self._leave(call_sid)
                self._end_call(self.calls[call_sid], "completed")
                return 204, None
        raise TwilioError(404, 20404, f"The requested resource {path} was not found")

    def _call(self, path: str, call_sid: str) -> dict:
        if call_sid not in self.calls:
            raise TwilioError(404, 20404, f"The requested resource {path}.json was not found")
        return self.calls[call_sid]

    def _conference(self, path: str, conference_sid: str) -> _Conference:
        if conference_sid not in self.conferences:
            raise TwilioError(404, 20404, f"The requested resource {path}.json was not found")
        return self.conferences[conference_sid]

    def _participant_at(self, path: str, conference_sid: str, call_sid: str) -> dict:
        participant = self.participants.get((conference_sid, call_sid))
        if participant is None:
            raise TwilioError(404, 20404, f"The requested resource {path}.json was not found")
        return participant

    def _update_call(self, call: dict, values: dict) -> dict:
        if call["status"] in TERMINAL:
            raise TwilioError(400, 21220, "Call is not in-progress. Cannot redirect.")
        if values.get("Status") in ("completed", "canceled"):
            self._end_call(
                call, values["Status"] if call["status"] != "in-progress" else "completed"
            )
        elif "Twiml" in values:
            self._execute(call, values["Twiml"])
        call["date_updated"] = _now()
        return self._call_json(call)

    def _create_participant(self, path, conference_ref, values, events, conference_events):
        for name in ("From", "To"):
            if not values.get(name):
                raise TwilioError(
                    400, 21604 if name == "To" else 21603, f"A '{name}' phone number is required."
                )
        if not DESTINATION.match(values["To"]):
            raise TwilioError(
                400, 21211, f"The 'To' number {values['To']} is not a valid phone number."
            )
        if conference_ref.startswith("CF"):
            conference = self._conference(path, conference_ref)
            if conference.status == "completed":
                raise TwilioError(400, 21220, "Conference is not in-progress.")
        else:
            conference = self._conference_by_name(conference_ref)
        if conference.callback is None and values.get("ConferenceStatusCallback"):
            conference.callback = values["ConferenceStatusCallback"]
            conference.events = conference_events
        call = self._new_call(
            **{"from": values["From"]},
            to=values["To"],
            direction="outbound-api",
            status="queued",
            status_callback=values.get("StatusCallback"),
            status_callback_events=events,
        )
        participant = self._new_participant(
            conference,
            call,
            muted=values.get("Muted") == "true",
            coaching=values.get("Coaching") == "true",
            call_sid_to_coach=values.get("CallSidToCoach"),
            start_conference_on_enter=values.get("StartConferenceOnEnter", "true") == "true",
            end_conference_on_exit=values.get("EndConferenceOnExit") == "true",
        )
        call["status"] = "initiated"
        self._call_event(call, "initiated")
        call["status"] = "queued"
        return self._participant_json(participant)

    def _update_participant(self, participant: dict, values: dict) -> dict:
        conference = self.conferences[participant["conference_sid"]]
        for name, key, on, off in (
            ("Hold", "hold", "participant-hold", "participant-unhold"),
            ("Muted", "muted", "participant-mute", "participant-unmute"),
        ):
            if name in values:
                wanted = values[name] == "true"
                if wanted != participant[key]:
                    participant[key] = wanted
                    self._participant_event(conference, participant, on if wanted else off)
        if "Coaching" in values:  # a monitoring supervisor switched to or from coaching
            participant["coaching"] = values["Coaching"] == "true"
            participant["call_sid_to_coach"] = values.get("CallSidToCoach")
        participant["date_updated"] = _now()
        return self._participant_json(participant)

    def _list_conferences(self, path: str, query: dict) -> dict:
        found = [
            c
            for c in self.conferences.values()
            if query.get("FriendlyName") in (None, c.name)
            and query.get("Status") in (None, c.status)
        ]
        size = int(query.get("PageSize", 50))
        return {
            "conferences": [self._conference_json(c) for c in found[:size]],
            "first_page_uri": f"{path}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "previous_page_uri": None,
            "page": 0,
            "page_size": size,
            "start": 0,
            "end": max(0, min(size, len(found)) - 1),
            "uri": f"{path}?PageSize={size}&Page=0",
        }

    # --- Twilio's JSON shapes ------------------------------------------------------------------

    def _base(self) -> str:
        return f"{API}/Accounts/{self.account_sid}"

    def _call_json(self, call: dict) -> dict:
        return {
            "sid": call["sid"],
            "account_sid": self.account_sid,
            "parent_call_sid": None,
            "from": call["from"],
            "from_formatted": call["from"],
            "to": call["to"],
            "to_formatted": call["to"],
            "status": call["status"],
            "direction": call["direction"],
            "date_created": call["date_created"],
            "date_updated": call["date_updated"],
            "start_time": call["start_time"],
            "end_time": call["end_time"],
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "forwarded_from": None,
            "group_sid": None,
            "phone_number_sid": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{self._base()}/Calls/{call['sid']}.json",
            "subresource_uris": {},
        }

    def _conference_json(self, conference: _Conference) -> dict:
        return {
            "sid": conference.sid,
            "account_sid": self.account_sid,
            "friendly_name": conference.name,
            "status": conference.status,
            "date_created": conference.created,
            "date_updated": conference.updated,
            "region": "us1",
            "reason_conference_ended": None,
            "call_sid_ending_conference": None,
            "api_version": "2010-04-01",
            "uri": f"{self._base()}/Conferences/{conference.sid}.json",
            "subresource_uris": {
                "participants": f"{self._base()}/Conferences/{conference.sid}/Participants.json"
            },
        }

    def _participant_json(self, participant: dict) -> dict:
        conference, call = participant["conference_sid"], participant["call_sid"]
        return {
            **participant,
            "queue_time": None,
            "uri": f"{self._base()}/Conferences/{conference}/Participants/{call}.json",
        }


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _handler_for(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = fake.handle(self.command, self.path, body, dict(self.headers))
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler
