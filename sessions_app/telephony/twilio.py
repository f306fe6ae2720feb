"""The Twilio provider (`TELEPHONY_PROVIDER=twilio`), on the official `twilio` library.

Every operation is one or two requests to Twilio's REST API (2010-04-01): calls are moved and
hung up through the Call resource, everything else happens to conference participants. A
session's calls live in its conference, named `session-<id>`: an incoming call joins it from
its first TwiML (`incoming_call_twiml`), and an invite moves a call that is not in one yet into
it (`start_conference`). Holding, muting and removing need the conference, so for a call that
is in none they are refused as an invalid state (409): the only way into one is a redirect,
which would drop the other party of a two-party `<Dial>`, and that is not what "hold" means.

`TWILIO_API_BASE_URL` replaces the scheme and host of every request the library makes (its
domains are `https://api.twilio.com` and the like, edges and regions included), keeping the
path: the library builds full URLs per domain, and rebasing them in the HTTP client, the last
step before the wire, is the one place that covers every domain and every edge setting. Tests
point it at a stateful fake on loopback (tests/twilio_fake.py).

Twilio's errors become `TelephonyError`s whose `kind` decides the API's answer: an invalid call
state (21220, or a call, conference or participant that is no longer there: 20404 and HTTP
404/409) is a 409 carrying Twilio's message; any other 4xx is a 400; a 5xx, a rate limit,
refused credentials, a timeout or a connection error is a 502.

What Twilio reports comes back as signed HTTP callbacks (`sessions_app.callbacks`): the pure
functions at the end of this module turn their form parameters into `ProviderReport`s. This
module imports nothing from the services.
"""

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Dial, VoiceResponse

from .base import (
    CallStatus,
    FailureKind,
    HoldResult,
    MonitorMode,
    ProviderReport,
    ReportKind,
    ReportSink,
    TelephonyError,
)

# Where Twilio calls us back, under PUBLIC_BASE_URL (sessions_app/callbacks/urls.py serves them).
CALL_STATUS_PATH = "/telephony/twilio/call-status"
CONFERENCE_STATUS_PATH = "/telephony/twilio/conference-status"
VOICE_PATH = "/telephony/twilio/voice"

# The call events every leg we dial reports, and the conference events every conference does.
CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
CONFERENCE_EVENTS = ["start", "end", "join", "leave", "mute", "hold"]

# Twilio error codes that mean "the call is not in a state for that" (a 409).
INVALID_STATE_CODES = frozenset(
    {
        20404,  # the call, conference or participant is not there (any more)
        21220,  # invalid call state: the call is not in progress
    }
)

# How long `start_conference` waits for the redirected call to show up in its conference.
CONFERENCE_JOIN_SECONDS = 10.0
_CONFERENCE_POLL_SECONDS = 0.2

CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
CONFERENCE_SID = re.compile(r"^CF[0-9a-fA-F]{32}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


class RebasedHttpClient(TwilioHttpClient):
    """The library's HTTP client, sending every request to `base_url` instead of the scheme
    and host the library chose (the path is kept, after `base_url`'s own path if it has one)."""

    def __init__(self, *, base_url: str = "", timeout: float | None = None):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        """The library's request, to the rebased URL."""
        if self.base_url:
            base = urlsplit(self.base_url)
            parts = urlsplit(url)
            url = urlunsplit(
                (base.scheme, base.netloc, base.path + parts.path, parts.query, parts.fragment)
            )
        return super().request(method, url, *args, **kwargs)


_UNABLE_PREFIX = re.compile(r"^Unable to \w+ record: ")


def _error(exc: Exception) -> TelephonyError:
    """The `TelephonyError` for what the library raised (see the module docstring)."""
    if isinstance(exc, requests.Timeout):
        return TelephonyError("Twilio did not answer in time")
    if isinstance(exc, requests.RequestException):
        return TelephonyError("Twilio could not be reached")
    if isinstance(exc, TwilioServiceException):
        status, code = exc.status, exc.code
        message = exc.detail or exc.title
    elif isinstance(exc, TwilioRestException):
        status, code = exc.status, exc.code
        message = _UNABLE_PREFIX.sub("", str(exc.msg or "")) or f"HTTP {status}"
    else:
        return TelephonyError(f"Twilio failed: {type(exc).__name__}")
    text = f"{message.rstrip('.')} (Twilio error {code})" if code else message
    if code in INVALID_STATE_CODES or status in (404, 409):
        kind = FailureKind.INVALID_STATE
    elif status in (401, 403):
        kind, text = FailureKind.UNAVAILABLE, f"Twilio refused our credentials: {text}"
    elif status == 429 or status >= 500:
        kind = FailureKind.UNAVAILABLE
    elif 400 <= status < 500:
        kind = FailureKind.REJECTED
    else:
        kind = FailureKind.UNAVAILABLE
    return TelephonyError(text, kind=kind, code=code)


def _twilio(call: Callable[[], object]):
    """Run one library call; whatever it raises becomes a `TelephonyError`."""
    try:
        return call()
    except (TwilioRestException, TwilioServiceException, requests.RequestException) as exc:
        raise _error(exc) from exc


def _dial_to(dial: Dial, destination: str) -> Dial:
    """`destination` (E.164, `sip:` or `client:`) as the noun of a `<Dial>`."""
    if destination.startswith(("sip:", "sips:")):
        dial.sip(destination)
    elif destination.startswith("client:"):
        dial.client(destination.removeprefix("client:"))
    else:
        dial.number(destination)
    return dial


class TwilioProvider:
    """The `TelephonyProvider` for a Twilio account (settings: TWILIO_*, PUBLIC_BASE_URL).

    Built once per process; the REST client keeps its connections. The operations and the
    exact requests they send are listed in the README ("Connect a Twilio account").
    """

    name = "twilio"

    def __init__(self, *, report: ReportSink):
        self._report = report  # unused: Twilio reports through the callback views
        self.account_sid = settings.TWILIO_ACCOUNT_SID
        self.public_base_url = settings.PUBLIC_BASE_URL
        self.hold_music_url = settings.TWILIO_HOLD_MUSIC_URL
        self._validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
        if settings.TWILIO_API_KEY_SID:
            username, password = settings.TWILIO_API_KEY_SID, settings.TWILIO_API_KEY_SECRET
        else:
            username, password = self.account_sid, settings.TWILIO_AUTH_TOKEN
        self.client = Client(
            username,
            password,
            account_sid=self.account_sid,
            http_client=RebasedHttpClient(
                base_url=settings.TWILIO_API_BASE_URL, timeout=settings.TWILIO_TIMEOUT_SECONDS
            ),
            # Everything comes from the settings: nothing from the library's own environment
            # variables (TWILIO_EDGE, TWILIO_REGION), which would otherwise change the host.
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )

    # --- callback URLs and signatures ---------------------------------------------------------

    def callback_url(self, path: str) -> str:
        """The public URL of one of our callback paths (what Twilio is told to call)."""
        return self.public_base_url + path

    def signature_valid(self, full_path: str, params: Mapping, signature: str | None) -> bool:
        """Whether `X-Twilio-Signature` is Twilio's signature, with our auth token, of the
        public URL of `full_path` (path and query string, as requested) and the form
        `params`."""
        if not signature:
            return False
        return self._validator.validate(self.callback_url(full_path), params, signature)

    # --- TwiML ---------------------------------------------------------------------------------

    def conference_twiml(self, name: str, *, wait_for_others: bool) -> str:
        """TwiML that puts the call into conference `name`, reporting its events to us. The
        caller leaving ends it (a session ends with its call). `wait_for_others`: the call
        waits with music until someone else starts the conference (an incoming caller waits
        for the agent); otherwise it starts the conference itself."""
        response = VoiceResponse()
        dial = Dial()
        options = {}
        if wait_for_others:
            options["wait_url"] = self.hold_music_url
            options["wait_method"] = "GET"
        dial.conference(
            name,
            status_callback=self.callback_url(CONFERENCE_STATUS_PATH),
            status_callback_method="POST",
            status_callback_event=" ".join(CONFERENCE_EVENTS),
            start_conference_on_enter=not wait_for_others,
            end_conference_on_exit=True,
            beep=False,
            **options,
        )
        response.append(dial)
        return str(response)

    @staticmethod
    def reject_twiml() -> str:
        """TwiML that refuses a call (the caller hears it was rejected)."""
        response = VoiceResponse()
        response.reject(reason="rejected")
        return str(response)

    @staticmethod
    def unavailable_twiml() -> str:
        """TwiML that apologises and hangs up."""
        response = VoiceResponse()
        response.say("Sorry, nobody can take your call right now. Please call again later.")
        response.hangup()
        return str(response)

    # --- the provider interface ---------------------------------------------------------------

    def _participant(self, conference_sid: str | None, call_sid: str, action: str):
        if not conference_sid:
            raise TelephonyError(
                f"The call is not in a conference, so it cannot be {action} with Twilio",
                kind=FailureKind.INVALID_STATE,
            )
        return self.client.conferences(conference_sid).participants(call_sid)

    def hold(self, *, call_sid: str, conference_sid: str | None = None) -> HoldResult:
        participant = self._participant(conference_sid, call_sid, "held")
        _twilio(
            lambda: participant.update(hold=True, hold_url=self.hold_music_url, hold_method="GET")
        )
        return HoldResult(queue_name=conference_sid)

    def resume(
        self, *, call_sid: str, queue_name: str | None, conference_sid: str | None = None
    ) -> None:
        participant = self._participant(conference_sid or queue_name, call_sid, "resumed")
        _twilio(lambda: participant.update(hold=False))

    def start_conference(self, *, call_sid: str, name: str) -> str:
        twiml = self.conference_twiml(name, wait_for_others=False)
        _twilio(lambda: self.client.calls(call_sid).update(twiml=twiml))
        deadline = time.monotonic() + CONFERENCE_JOIN_SECONDS
        while True:
            found = _twilio(
                lambda: self.client.conferences.list(
                    friendly_name=name, status="in-progress", limit=1
                )
            )
            if found:
                return found[0].sid
            if time.monotonic() >= deadline:
                raise TelephonyError(
                    f"The call did not join conference {name} within {CONFERENCE_JOIN_SECONDS:g} s"
                )
            time.sleep(_CONFERENCE_POLL_SECONDS)

    def _add_participant(self, conference: str, **options) -> str:
        participant = _twilio(
            lambda: self.client.conferences(conference).participants.create(
                status_callback=self.callback_url(CALL_STATUS_PATH),
                status_callback_method="POST",
                status_callback_event=CALL_EVENTS,
                conference_status_callback=self.callback_url(CONFERENCE_STATUS_PATH),
                conference_status_callback_method="POST",
                conference_status_callback_event=CONFERENCE_EVENTS,
                **options,
            )
        )
        return participant.call_sid

    def dial_into_conference(
        self,
        *,
        conference_sid: str | None,
        destination: str,
        from_number: str,
        conference_name: str | None = None,
    ) -> str:
        # Twilio takes a conference's friendly name in place of its SID to add a participant,
        # and starts the conference if it has not started yet.
        conference = conference_sid or conference_name
        if not conference:
            raise TelephonyError("No conference to dial into", kind=FailureKind.INVALID_STATE)
        return self._add_participant(
            conference,
            from_=from_number,
            to=destination,
            start_conference_on_enter=True,
            end_conference_on_exit=False,
        )

    def hangup(self, *, call_sid: str) -> None:
        _twilio(lambda: self.client.calls(call_sid).update(status="completed"))

    def mute(self, *, conference_sid: str, call_sid: str, muted: bool) -> None:
        participant = self._participant(conference_sid, call_sid, "muted")
        _twilio(lambda: participant.update(muted=muted))

    def remove_participant(self, *, conference_sid: str, call_sid: str) -> None:
        participant = self._participant(conference_sid, call_sid, "removed")
        _twilio(participant.delete)

    def redirect(self, *, call_sid: str, destination: str, caller_id: str) -> None:
        response = VoiceResponse()
        response.append(_dial_to(Dial(caller_id=caller_id), destination))
        _twilio(lambda: self.client.calls(call_sid).update(twiml=str(response)))

    def monitor(
        self,
        *,
        conference_sid: str,
        destination: str,
        mode: MonitorMode,
        agent_call_sid: str | None,
        from_number: str,
    ) -> str:
        if not conference_sid:
            raise TelephonyError(
                "The call is not in a conference, so it cannot be monitored with Twilio",
                kind=FailureKind.INVALID_STATE,
            )
        options: dict = {}
        if mode == MonitorMode.LISTEN:
            options["muted"] = True
        elif mode == MonitorMode.COACH:
            if not agent_call_sid:
                raise TelephonyError(
                    "Coaching needs the call of the agent to coach", kind=FailureKind.REJECTED
                )
            options.update(coaching=True, call_sid_to_coach=agent_call_sid)
        return self._add_participant(
            conference_sid,
            from_=from_number,
            to=destination,
            beep="false",  # a supervisor joins without announcing it
            start_conference_on_enter=False,
            end_conference_on_exit=False,
            **options,
        )

    def set_monitor_mode(
        self,
        *,
        conference_sid: str,
        call_sid: str,
        mode: MonitorMode,
        agent_call_sid: str | None,
    ) -> None:
        participant = self._participant(conference_sid, call_sid, "monitored")
        options: dict = {"muted": mode == MonitorMode.LISTEN, "coaching": mode == MonitorMode.COACH}
        if mode == MonitorMode.COACH:
            if not agent_call_sid:
                raise TelephonyError(
                    "Coaching needs the call of the agent to coach", kind=FailureKind.REJECTED
                )
            options["call_sid_to_coach"] = agent_call_sid
        _twilio(lambda: participant.update(**options))

    def end_conference(self, *, conference_sid: str) -> None:
        _twilio(lambda: self.client.conferences(conference_sid).update(status="completed"))

    def call_status(self, *, call_sid: str) -> CallStatus:
        try:
            call = _twilio(lambda: self.client.calls(call_sid).fetch())
        except TelephonyError as error:
            if error.code == 20404:
                return CallStatus.UNKNOWN
            raise
        try:
            return CallStatus(call.status)
        except ValueError:  # a status we do not know: not reason enough to end anything
            return CallStatus.IN_PROGRESS


# --- callbacks: form parameters -> reports ------------------------------------------------------


class BadCallback(ValueError):
    """A callback whose parameters are missing or malformed (answered with a 400)."""


@dataclass(frozen=True)
class IncomingCall:
    """A new call, as Twilio's Voice URL request describes it."""

    call_sid: str
    account_sid: str
    from_address: str
    from_name: str | None
    to_address: str


def _field(params: Mapping, name: str, pattern: re.Pattern | None = None) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise BadCallback(f"{name} is missing")
    if len(value) > 200 or (pattern is not None and not pattern.match(value)):
        raise BadCallback(f"{name} is malformed")
    return value


def _timestamp(params: Mapping):
    try:
        return parsedate_to_datetime(params.get("Timestamp") or "")
    except (TypeError, ValueError, IndexError):
        return None


def callback_account(params: Mapping) -> str:
    """The AccountSid a callback names (BadCallback if it names none)."""
    return _field(params, "AccountSid", ACCOUNT_SID)


def incoming_call(params: Mapping) -> IncomingCall:
    """The call a Voice URL request announces."""
    return IncomingCall(
        call_sid=_field(params, "CallSid", CALL_SID),
        account_sid=callback_account(params),
        from_address=_field(params, "From"),
        from_name=(params.get("CallerName") or "").strip()[:200] or None,
        to_address=_field(params, "To"),
    )


_CALL_STATUS_KINDS = {
    "ringing": ReportKind.RINGING,
    "in-progress": ReportKind.ANSWERED,
    "completed": ReportKind.COMPLETED,
    "busy": ReportKind.FAILED,
    "no-answer": ReportKind.FAILED,
    "failed": ReportKind.FAILED,
    "canceled": ReportKind.FAILED,
}


def call_status_report(params: Mapping, idempotency_token: str | None = None) -> ProviderReport:
    """The report of one call status callback.

    Its event id is the call and its status, both covered by the signature: a call reaches
    each status once, so a redelivery (same `I-Twilio-Idempotency-Token`, same
    `SequenceNumber`) or a replay with any header changed is the same event. An incoming
    call's own `in-progress` is Twilio answering it to run our TwiML, not an agent's answer.
    """
    call_sid = _field(params, "CallSid", CALL_SID)
    status = _field(params, "CallStatus")
    if len(status) > 24:
        raise BadCallback("CallStatus is malformed")
    kind = _CALL_STATUS_KINDS.get(status, ReportKind.OTHER)
    if kind == ReportKind.ANSWERED and params.get("Direction") == "inbound":
        kind = ReportKind.OTHER
    data = {"status": status, "sequence": params.get("SequenceNumber")}
    if kind == ReportKind.OTHER:
        data["event"] = f"call {status}"
    if idempotency_token:
        data["idempotency_token"] = idempotency_token[:200]
    return ProviderReport(
        provider=TwilioProvider.name,
        event_id=f"call:{call_sid}:{status}",
        call_sid=call_sid,
        kind=kind,
        data=data,
        occurred_at=_timestamp(params),
    )


_CONFERENCE_KINDS = {
    "participant-join": ReportKind.JOINED,
    "participant-leave": ReportKind.LEFT,
    "participant-hold": ReportKind.HELD,
    "participant-unhold": ReportKind.UNHELD,
    "participant-mute": ReportKind.MUTED,
    "participant-unmute": ReportKind.UNMUTED,
}


def conference_status_report(
    params: Mapping, idempotency_token: str | None = None
) -> tuple[ProviderReport, bool]:
    """The report of one conference status callback, and whether it is about a call (False:
    a conference-wide event such as `conference-end`, recorded and ignored).

    Its event id is the conference, its `SequenceNumber`, the event and the call, all covered
    by the signature; without a sequence number, the idempotency token stands in.
    """
    conference_sid = _field(params, "ConferenceSid", CONFERENCE_SID)
    event = _field(params, "StatusCallbackEvent")
    if len(event) > 40:
        raise BadCallback("StatusCallbackEvent is malformed")
    sequence = (params.get("SequenceNumber") or "").strip()
    if not sequence.isdigit():
        if not idempotency_token:
            raise BadCallback("SequenceNumber is missing")
        sequence = f"token-{idempotency_token[:60]}"
    kind = _CONFERENCE_KINDS.get(event)
    call_sid = _field(params, "CallSid", CALL_SID) if kind else conference_sid
    data = {
        "event": event,
        "conference_sid": conference_sid,
        "conference_name": (params.get("FriendlyName") or "")[:200],
        "sequence": sequence,
    }
    if idempotency_token:
        data["idempotency_token"] = idempotency_token[:200]
    report = ProviderReport(
        provider=TwilioProvider.name,
        event_id=f"conference:{conference_sid}:{sequence}:{event}:{call_sid}",
        call_sid=call_sid,
        kind=kind or ReportKind.OTHER,
        data=data,
        occurred_at=_timestamp(params),
    )
    return report, kind is not None
