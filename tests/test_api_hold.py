"""POST /sessions/{sessionId}/hold (HoldSession), and its predefined routes.

Every test checks the response, the session and members as stored, and the log entry.
"""

import re

import pytest

from sessions_app.models import CallState, Channel, HoldReason, MemberCallState, SessionEvent
from tests.conftest import (
    CLOCK,
    FORMATS,
    MEDIA_TYPES,
    assert_failure_recorded,
    db_state,
    encode_request,
    error_status,
    wire_fields,
)
from tests.factories import CallSessionFactory, SessionMemberFactory

SPEC_REQUEST = (
    '<HoldSession xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns="http://schemas.datacontract.org/2004/07/Voice.Api.Sessions">\n'
    "<CallSid>{call_sid}</CallSid>\n<Reason>None</Reason>\n<SessionId>{session_id}</SessionId>\n"
    "</HoldSession>"
)


def assert_held(session, user, reason=HoldReason.NONE):
    """The session, its caller and its log as a successful API hold leaves them."""
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    assert session.hold_reason == reason
    assert session.held_by_user_id == user.id
    assert session.hold_queue_name
    assert list(session.members.values_list("call_state", flat=True)) == [MemberCallState.HOLD]
    [entry] = SessionEvent.objects.filter(session=session)
    assert "put on hold" in entry.message and entry.message.endswith("by alice via API")
    assert (entry.actor, entry.via) == (user, "api")


@pytest.mark.parametrize("fmt", FORMATS)
def test_hold_in_each_format(api, session, user, fmt):
    body, content_type = encode_request(fmt, "HoldSession", {"Reason": "Transferring"})

    response = api.post(
        f"/sessions/{session.id}/hold",
        body,
        content_type=content_type,
        HTTP_ACCEPT=MEDIA_TYPES[fmt],
    )

    assert response.status_code == 200
    assert response["Content-Type"] == f"{MEDIA_TYPES[fmt]}; charset=utf-8"
    fields = wire_fields(response)
    assert fields["Id"] == session.id
    assert fields["CallState"] == "Hold"
    assert fields["HoldReason"] == "Transferring"
    assert fields["HeldByUserId"] == user.id
    assert_held(session, user, HoldReason.TRANSFERRING)


@pytest.mark.parametrize(
    ("route", "media_type"),
    [
        ("/api/HoldSession", "application/json"),
        ("/api/holdsession", "application/json"),
        ("/api/HoldSession.xml", "application/xml"),
        ("/json/reply/HoldSession", "application/json"),
        ("/xml/reply/HoldSession", "application/xml"),
    ],
)
def test_hold_through_a_predefined_route(api, session, user, route, media_type):
    body = {"sessionId": session.id, "callSid": session.call_sid, "reason": "Transferring"}

    response = api.post(route, body, format="json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert wire_fields(response)["CallState"] == "Hold"
    assert_held(session, user, HoldReason.TRANSFERRING)


def test_hold_accepts_the_spec_xml_sample(api, session, user):
    body = SPEC_REQUEST.format(call_sid=session.call_sid, session_id=session.id)

    response = api.post(
        f"/sessions/{session.id}/hold",
        body,
        content_type="application/xml",
        HTTP_ACCEPT="application/xml",
    )

    assert response.status_code == 200
    assert wire_fields(response)["CallState"] == "Hold"
    assert_held(session, user)


def test_hold_without_a_body_holds_the_sessions_own_call(api, session, user):
    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 200
    assert_held(session, user)


def test_hold_reads_a_form_body(api, session, user):
    response = api.post(
        f"/sessions/{session.id}/hold",
        "Reason=Transferring",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert_held(session, user, HoldReason.TRANSFERRING)


def test_hold_reads_the_query_string(api, session, user):
    response = api.post(f"/sessions/{session.id}/hold?reason=Transferring")

    assert response.status_code == 200
    assert_held(session, user, HoldReason.TRANSFERRING)


def test_hold_matches_body_keys_and_enum_names_case_insensitively(api, session, user):
    response = api.post(
        f"/sessions/{session.id}/hold",
        f'{{"REASON": "transferring", "CallSID": "{session.call_sid}"}}',
        content_type="application/json",
    )

    assert response.status_code == 200
    assert_held(session, user, HoldReason.TRANSFERRING)


def test_hold_path_session_id_wins_over_the_body(api, session, account, user):
    decoy = CallSessionFactory(account=account)

    response = api.post(f"/sessions/{session.id}/hold", {"sessionId": decoy.id}, format="json")

    assert response.status_code == 200
    assert wire_fields(response)["Id"] == session.id
    assert_held(session, user)
    decoy.refresh_from_db()
    assert decoy.call_state == CallState.CONNECTED


def test_hold_of_one_member_by_call_sid(api, session):
    agent = SessionMemberFactory(session=session)

    response = api.post(f"/sessions/{session.id}/hold", {"callSid": agent.call_sid}, format="json")

    assert response.status_code == 200
    members = {m["callSid"]: m["callState"] for m in response.json()["members"]}
    assert members == {session.call_sid: "Connected", agent.call_sid: "Hold"}
    agent.refresh_from_db()
    assert agent.call_state == MemberCallState.HOLD


def test_second_hold_answers_200_and_logs_nothing(api, session):
    api.post(f"/sessions/{session.id}/hold")
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 200
    assert response.json()["callState"] == "Hold"
    assert len(response.json()["log"]) == 1
    assert db_state() == before


def test_hold_of_an_unknown_call_sid_is_400_naming_callsid(api, session):
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold", {"callSid": "CAnobody"}, format="json")

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "NotFound"
    assert [e["fieldName"] for e in status["errors"]] == ["CallSid"]
    assert db_state() == before


def test_hold_of_a_session_without_a_call_sid_is_400_naming_callsid(api, account):
    session = CallSessionFactory(account=account, call_sid=None)
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 400
    [error] = error_status(response)["errors"]
    assert (error["errorCode"], error["fieldName"]) == ("NotEmpty", "CallSid")
    assert db_state() == before


@pytest.mark.parametrize("channel", [Channel.CHAT, Channel.FAX])
def test_hold_of_a_chat_or_fax_is_400_with_a_clear_message(api, account, channel):
    session = CallSessionFactory(account=account, channel=channel)
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "NotSupported"
    assert status["message"] == f"A {channel.lower()} session cannot be held"
    assert db_state() == before


def test_hold_of_a_ringing_call_is_409_naming_the_state(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 409
    assert re.fullmatch(
        f"Cannot hold: the call is Ringing since {CLOCK}", error_status(response)["message"]
    )
    assert db_state() == before


def test_hold_of_an_ended_session_is_409(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 409
    status = error_status(response)
    assert status["errorCode"] == "SessionEnded"
    assert re.fullmatch(rf"The session has already ended \(at {CLOCK}\)", status["message"])
    assert db_state() == before


def test_hold_provider_failure_is_502_and_only_the_failure_is_recorded(
    api, session, failing_provider
):
    failing_provider("hold", "No hold queue available")
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold")

    assert response.status_code == 502
    status = error_status(response)
    assert status["errorCode"] == "TelephonyError"
    assert status["message"] == "The telephony provider failed: No hold queue available"
    event = assert_failure_recorded(before, action="hold", error="No hold queue available")
    assert event["data"]["member"] == {"call_sid": session.call_sid, "name": "Ada Lovelace"}
