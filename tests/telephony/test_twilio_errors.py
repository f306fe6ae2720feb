"""Twilio's errors as API errors: an invalid call state is a 409 carrying Twilio's message,
another 4xx a 400, a 5xx, refused credentials or a timeout a 502; in every case the session is
as it was, with the failure on its record (one `provider_failed` event) and nothing else."""

import pytest

from sessions_app.services import get_provider
from sessions_app.telephony import FailureKind, TelephonyError
from sessions_app.telephony.twilio import _error
from tests.conftest import assert_failure_recorded, db_state, error_status
from tests.factories import CallSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_conference(twilio, account):
    """A connected session whose call is in its conference at Twilio."""
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")
    twilio.run_twiml(
        params["CallSid"], get_provider().conference_twiml("session-x", wait_for_others=False)
    )
    return CallSessionFactory(
        account=account,
        call_sid=params["CallSid"],
        to_address="+15550002222",
        conference_sid=twilio.conference_named("session-x").sid,
    )


@pytest.mark.parametrize(
    ("status", "code", "message", "http", "error_code", "text"),
    [
        (
            400,
            21220,
            "Call is not in-progress. Cannot redirect.",
            409,
            "InvalidState",
            "The telephony provider refused: Call is not in-progress. Cannot redirect "
            "(Twilio error 21220)",
        ),
        (
            404,
            20404,
            "The requested resource was not found",
            409,
            "InvalidState",
            "The telephony provider refused: The requested resource was not found "
            "(Twilio error 20404)",
        ),
        (
            400,
            21211,
            "The 'To' number is not a valid phone number.",
            400,
            "TelephonyRejected",
            "The telephony provider refused: The 'To' number is not a valid phone number "
            "(Twilio error 21211)",
        ),
        (
            500,
            20500,
            "Internal Server Error",
            502,
            "TelephonyError",
            "The telephony provider failed: Internal Server Error (Twilio error 20500)",
        ),
        (
            503,
            None,
            "Service Unavailable",
            502,
            "TelephonyError",
            "The telephony provider failed: Service Unavailable",
        ),
        (
            401,
            20003,
            "Authenticate",
            502,
            "TelephonyError",
            "The telephony provider failed: Twilio refused our credentials: Authenticate "
            "(Twilio error 20003)",
        ),
        (
            429,
            20429,
            "Too Many Requests",
            502,
            "TelephonyError",
            "The telephony provider failed: Too Many Requests (Twilio error 20429)",
        ),
    ],
)
def test_a_twilio_error_on_hold_is_an_api_error_and_the_session_is_unchanged(
    twilio, api, in_conference, status, code, message, http, error_code, text
):
    twilio.fail_next(status, code, message, method="POST", match="/Participants/")
    before = db_state()

    response = api.post(f"/sessions/{in_conference.id}/hold", {}, format="json")

    assert response.status_code == http
    assert error_status(response) == {"errorCode": error_code, "message": text, "errors": []}
    assert_failure_recorded(before, action="hold", error=text.split(": ", 1)[1])
    assert twilio.participant(in_conference.call_sid)["hold"] is False


def test_a_timeout_is_a_502_and_the_session_is_unchanged(twilio, api, in_conference, settings):
    settings.TWILIO_TIMEOUT_SECONDS = 0.3
    get_provider.cache_clear()
    twilio.fail_next(200, None, "", method="POST", match="/Calls/", stall=1.5)
    before = db_state()

    response = api.delete(f"/sessions/{in_conference.id}")

    assert response.status_code == 502
    assert error_status(response)["message"] == (
        "The telephony provider failed: Twilio did not answer in time"
    )
    assert_failure_recorded(before, action="end", error="Twilio did not answer in time")


def test_an_unreachable_twilio_is_a_502(twilio, api, in_conference, settings):
    settings.TWILIO_API_BASE_URL = "http://127.0.0.1:9"  # nothing listens on discard
    get_provider.cache_clear()
    before = db_state()

    response = api.post(f"/sessions/{in_conference.id}/hold", {}, format="json")

    assert response.status_code == 502
    assert_failure_recorded(before, action="hold", error="Twilio could not be reached")


def test_holding_a_call_in_no_conference_is_a_409_without_a_request(twilio, api, account):
    session = CallSessionFactory(account=account)
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold", {}, format="json")

    assert response.status_code == 409
    assert "not in a conference" in error_status(response)["message"]
    assert_failure_recorded(before, action="hold")
    assert twilio.requests == []


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 21220, FailureKind.INVALID_STATE),
        (404, 20404, FailureKind.INVALID_STATE),
        (409, None, FailureKind.INVALID_STATE),
        (400, 21211, FailureKind.REJECTED),
        (400, 21212, FailureKind.REJECTED),
        (422, None, FailureKind.REJECTED),
        (401, 20003, FailureKind.UNAVAILABLE),
        (403, 20403, FailureKind.UNAVAILABLE),
        (429, 20429, FailureKind.UNAVAILABLE),
        (500, 20500, FailureKind.UNAVAILABLE),
        (502, None, FailureKind.UNAVAILABLE),
    ],
)
def test_what_each_twilio_error_means(status, code, kind):
    from twilio.base.exceptions import TwilioRestException

    error = _error(TwilioRestException(status, "/x", "Unable to update record: Nope", code))

    assert isinstance(error, TelephonyError)
    assert (error.kind, error.code) == (kind, code)
