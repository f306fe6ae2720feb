"""Twilio's callbacks: call status, conference status, and the Voice URL of our numbers.

Every request must be Twilio's: its `X-Twilio-Signature` is checked with the library's
`RequestValidator` against the public URL it was sent to (PUBLIC_BASE_URL and the path and
query as requested) and its form parameters; a missing or wrong signature, or an AccountSid
that is not ours, answers 403 and stores nothing. Only then is anything parsed: a callback that
lacks what it needs answers 400. Bodies are small (`MAX_CALLBACK_BYTES`); none of this can be a
500.

A status callback becomes one `ProviderReport` for the provider inbox, which stores it first,
applies it once (a redelivery or a replay is the same event: see `call_status_report`) and
never lets a late one move a session backwards. The Voice URL answers TwiML: the caller into
the session's conference, or a refusal. These URLs answer 404 unless the Twilio provider is
the one configured.
"""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sessions_app import services
from sessions_app.telephony.twilio import (
    BadCallback,
    TwilioProvider,
    call_status_report,
    callback_account,
    conference_status_report,
    incoming_call,
)

logger = logging.getLogger(__name__)

# Twilio's callbacks are a few dozen short parameters; anything much larger is not one.
MAX_CALLBACK_BYTES = 16 * 1024
FORM = "application/x-www-form-urlencoded"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"


class Refused(Exception):
    """The callback is answered with `response` and nothing is stored."""

    def __init__(self, response: HttpResponse):
        super().__init__(response.status_code)
        self.response = response


def _refuse(status: int, reason: str) -> Refused:
    return Refused(HttpResponse(reason, status=status, content_type="text/plain"))


def _verified(request: HttpRequest) -> tuple[TwilioProvider, dict]:
    """The provider and the request's form parameters, once the request is known to be
    Twilio's (see the module docstring); else Refused."""
    provider = services.get_provider()
    if not isinstance(provider, TwilioProvider):
        raise _refuse(404, "Not found")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _refuse(400, "Bad Content-Length") from None
    if length > MAX_CALLBACK_BYTES:
        raise _refuse(413, "Too large")
    if request.content_type != FORM:
        raise _refuse(400, f"Expected {FORM}")
    try:
        params = request.POST
    except (RequestDataTooBig, SuspiciousOperation):
        raise _refuse(400, "Malformed form") from None
    signature = request.headers.get("X-Twilio-Signature")
    if not provider.signature_valid(request.get_full_path(), params, signature):
        logger.warning("refused a Twilio callback to %s: bad signature", request.path)
        raise _refuse(403, "Bad signature")
    try:
        account = callback_account(params)
    except BadCallback as error:
        raise _refuse(400, str(error)) from None
    if account != provider.account_sid:
        logger.warning("refused a Twilio callback for another account, %s", account)
        raise _refuse(403, "Not our account")
    return provider, {key: params.get(key) for key in params}


def _callback(view):
    """POST only, no CSRF token (Twilio has none: the signature stands in), and every refusal
    answered as it says."""

    @csrf_exempt
    @require_POST
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            return view(request, *_verified(request))
        except Refused as refused:
            return refused.response
        except BadCallback as error:
            return HttpResponse(str(error), status=400, content_type="text/plain")

    wrapper.__doc__ = view.__doc__
    wrapper.__name__ = view.__name__
    return wrapper


@_callback
def call_status(request: HttpRequest, provider: TwilioProvider, params: dict) -> HttpResponse:
    """A call's status changed (initiated, ringing, answered, completed, ...)."""
    report = call_status_report(params, request.headers.get(IDEMPOTENCY_HEADER))
    services.provider_report_receive(report)
    return HttpResponse(status=204)


@_callback
def conference_status(request: HttpRequest, provider: TwilioProvider, params: dict) -> HttpResponse:
    """Something happened in a conference (a participant joined, left, was held, muted...)."""
    report, about_a_call = conference_status_report(params, request.headers.get(IDEMPOTENCY_HEADER))
    if about_a_call:
        services.provider_report_receive(report)
    else:
        services.provider_report_note(report, f"Nothing to do for '{report.data['event']}'")
    return HttpResponse(status=204)


@_callback
def voice(request: HttpRequest, provider: TwilioProvider, params: dict) -> HttpResponse:
    """A call to one of our numbers (the number's Voice URL): its session is made and the
    agent rung; the answer is TwiML that puts the caller into the session's conference, or
    refuses the call."""
    call = incoming_call(params)
    routing = services.incoming_call_receive(
        provider=provider.name,
        call_sid=call.call_sid,
        from_address=call.from_address,
        from_name=call.from_name,
        to_address=call.to_address,
    )
    if routing.routing == services.Routing.CONFERENCE:
        twiml = provider.conference_twiml(routing.conference, wait_for_others=True)
    elif routing.routing == services.Routing.REJECT:
        twiml = provider.reject_twiml()
    else:
        twiml = provider.unavailable_twiml()
    return HttpResponse(twiml, content_type="text/xml")
