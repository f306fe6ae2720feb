"""POST /sessions/{sessionId}/conference/members (AddConferenceMember): inviting a party into
the session's conference, the invited party answering, and every way an invite is refused."""

import json
import re

import pytest

from sessions_app.models import (
    CallState,
    DialState,
    MemberCallState,
    MemberRole,
    SessionEvent,
    SessionMember,
)
from tests.conftest import (
    CLOCK,
    FORMATS,
    MEDIA_TYPES,
    assert_failure_recorded,
    db_state,
    encode_request,
    error_status,
    provider_reports,
    spec_sample,
    wire_fields,
)
from tests.factories import CallSessionFactory


def response_log_tail(api, session) -> str:
    """The last log line of the session, as the API shows it."""
    return api.get(f"/sessions/{session.id}").json()["log"][-1]["message"]


def invite_url(session) -> str:
    return f"/sessions/{session.id}/conference/members"


def assert_invited(session, user, destination="+15557654321", from_number="+15550001000"):
    """The rows a successful invite leaves: a conference, a ringing Transfer member, a log."""
    session.refresh_from_db()
    assert session.conference_sid.startswith("CF")
    assert session.dial_state == DialState.ACTIVE
    caller, invited = SessionMember.objects.filter(session=session).order_by("id")
    assert caller.call_state == MemberCallState.CONNECTED
    assert (invited.identity, invited.role) == (destination, MemberRole.TRANSFER)
    assert invited.call_state == MemberCallState.RINGING
    assert invited.is_original_member is False
    assert invited.call_sid.startswith("CA")
    assert session.most_recent_participant_call_sid == invited.call_sid
    [entry] = SessionEvent.objects.filter(session=session)
    assert entry.message == (
        f"Invited {destination} to the conference (caller id {from_number}) by alice via API"
    )
    assert (entry.actor, entry.via) == (user, "api")
    return invited


@pytest.mark.parametrize("fmt", FORMATS)
def test_invite_in_each_format(api, session, user, fmt):
    body, content_type = encode_request(
        fmt, "AddConferenceMember", {"Destination": "+15557654321", "CallSid": session.call_sid}
    )

    response = api.post(
        invite_url(session), body, content_type=content_type, HTTP_ACCEPT=MEDIA_TYPES[fmt]
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith(MEDIA_TYPES[fmt])
    invited = assert_invited(session, user)
    fields = wire_fields(response)
    assert fields["ConferenceSid"] == session.conference_sid
    assert fields["MostRecentParticipantCallSid"] == invited.call_sid
    assert fields["DialState"] == "Active"


def test_invite_response_lists_the_ringing_member(api, session, user):
    response = api.post(invite_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 200
    invited = assert_invited(session, user)
    assert response.json()["members"][-1] == {
        "identity": "+15557654321",
        "displayName": "+15557654321",
        "isOriginalMember": False,
        "applicationData": {},
        "callState": "Ringing",
        "role": "Transfer",
        "callSid": invited.call_sid,
        "muted": False,
    }


def test_invite_accepts_the_spec_sample_json_sent_as_csv(api, session, user):
    """The spec's CSV sample for this operation sends a JSON object as `text/csv`."""
    sample = json.loads(spec_sample("add-conference-member-request-as-csv.txt"))
    values = {
        "sessionId": session.id,
        "callSid": session.call_sid,
        "destination": "+15557654321",
        "fromNumber": "+15550001000",
    }
    assert list(sample) == list(values)  # the sample's members, in its order
    body = json.dumps(values)

    response = api.post(invite_url(session), body, content_type="text/csv", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert_invited(session, user)


@pytest.mark.parametrize(
    ("route", "media_type"),
    [
        ("/api/AddConferenceMember", "application/json"),
        ("/json/reply/AddConferenceMember", "application/json"),
        ("/xml/reply/AddConferenceMember", "application/xml"),
    ],
)
def test_invite_through_a_predefined_route(api, session, user, route, media_type):
    body = {"sessionId": session.id, "callSid": session.call_sid, "destination": "+15557654321"}

    response = api.post(route, body, format="json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert_invited(session, user)


def test_invite_with_an_explicit_from_number(api, session, user):
    response = api.post(
        invite_url(session),
        {"destination": "+15557654321", "fromNumber": "+15559990000"},
        format="json",
    )

    assert response.status_code == 200
    assert_invited(session, user, from_number="+15559990000")


@pytest.mark.parametrize("destination", ["sip:bob@example.com", "client:agent_7"])
def test_invite_a_sip_or_client_destination(api, session, user, destination):
    response = api.post(invite_url(session), {"destination": destination}, format="json")

    assert response.status_code == 200
    assert_invited(session, user, destination=destination)


def test_answer_of_the_invited_party_shows_connected(api, session):
    api.post(invite_url(session), {"destination": "+15557654321"}, format="json")
    session.refresh_from_db()

    provider_reports(session.most_recent_participant_call_sid, "answered")

    body = api.get(f"/sessions/{session.id}").json()
    assert body["dialState"] == "None"
    assert [m["callState"] for m in body["members"]] == ["Connected", "Connected"]
    assert body["log"][-1]["message"] == "+15557654321 answered (via provider)"


def test_second_invite_joins_the_same_conference(api, session):
    first = api.post(invite_url(session), {"destination": "+15551110000"}, format="json")

    second = api.post(invite_url(session), {"destination": "+15552220000"}, format="json")

    assert second.status_code == 200
    assert second.json()["conferenceSid"] == first.json()["conferenceSid"]
    assert [m["role"] for m in second.json()["members"]] == ["Caller", "Transfer", "Transfer"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NotEmpty"),
        ({"destination": ""}, "NotEmpty"),
        ({"destination": "garbage"}, "InvalidDestination"),
        ({"destination": "5557654321"}, "InvalidDestination"),
        ({"destination": "sip:"}, "InvalidDestination"),
        ({"destination": "client:a b"}, "InvalidDestination"),
        ({"destination": "+1 555 765 4321"}, "InvalidDestination"),
    ],
)
def test_invite_with_a_bad_destination_is_400_naming_destination(api, session, body, code):
    before = db_state()

    response = api.post(invite_url(session), body, format="json")

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == code
    assert status["errors"] == [
        {"errorCode": code, "fieldName": "Destination", "message": status["message"]}
    ]
    assert db_state() == before


@pytest.mark.parametrize("from_number", ["5559990000", "+1-555-999-0000", "sip:a@example.com"])
def test_invite_with_a_bad_from_number_is_400_naming_fromnumber(api, session, from_number):
    before = db_state()

    response = api.post(
        invite_url(session),
        {"destination": "+15557654321", "fromNumber": from_number},
        format="json",
    )

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "InvalidPhoneNumber"
    assert [e["fieldName"] for e in status["errors"]] == ["FromNumber"]
    assert db_state() == before


def test_invite_without_a_number_to_call_from_is_400(api, account):
    session = CallSessionFactory(account=account, to_address="client:frontdesk")
    before = db_state()

    response = api.post(invite_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 400
    assert [e["fieldName"] for e in error_status(response)["errors"]] == ["FromNumber"]
    assert db_state() == before


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("+15005550001", "The destination number is not a valid phone number"),
        ("+15005550002", "The destination cannot be reached"),
    ],
)
def test_invite_refused_by_the_provider_is_502_and_records_only_the_conference_it_made(
    api, session, destination, message
):
    before = db_state()

    response = api.post(invite_url(session), {"destination": destination}, format="json")

    assert response.status_code == 502
    status = error_status(response)
    assert status["errorCode"] == "TelephonyError"
    assert status["message"] == f"The telephony provider failed: {message}"
    # The conference was made before the dial failed: the session records it, and nothing else.
    event = assert_failure_recorded(
        before,
        action="invite",
        error=message,
        session_changes={"conference_sid": lambda sid: sid.startswith("CF")},
    )
    assert event["data"]["done"] == [f"start a conference for {session.call_sid}"]
    assert response_log_tail(api, session) == (
        f"Invite failed at the telephony provider: {message} "
        f"(after start a conference for {session.call_sid}) by alice via API"
    )


def test_invite_failing_to_start_the_conference_changes_nothing_but_records_the_failure(
    api, session, failing_provider
):
    failing_provider("start_conference")
    before = db_state()

    response = api.post(invite_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 502
    assert error_status(response)["errorCode"] == "TelephonyError"
    event = assert_failure_recorded(before, action="invite", error="The provider is down")
    assert event["data"]["done"] == []


def test_invite_provider_failure_on_an_existing_conference_changes_nothing(api, session):
    api.post(invite_url(session), {"destination": "+15551110000"}, format="json")
    before = db_state()

    response = api.post(invite_url(session), {"destination": "+15005550002"}, format="json")

    assert response.status_code == 502
    assert_failure_recorded(before, action="invite", error="The destination cannot be reached")


def test_invite_into_a_ringing_call_is_409_naming_the_state(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)
    before = db_state()

    response = api.post(invite_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 409
    assert re.fullmatch(
        f"Cannot invite: the call is Ringing since {CLOCK}", error_status(response)["message"]
    )
    assert db_state() == before


def test_invite_into_an_ended_session_is_409(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)
    before = db_state()

    response = api.post(invite_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 409
    assert error_status(response)["errorCode"] == "SessionEnded"
    assert db_state() == before


def test_invite_into_a_chat_is_400(api, account):
    session = CallSessionFactory(account=account, channel="Chat")
    before = db_state()

    response = api.post(invite_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 400
    assert error_status(response)["message"] == "A chat session cannot have a conference"
    assert db_state() == before
