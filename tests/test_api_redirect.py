"""POST /sessions/{sessionId}/redirect (RedirectSession): Evo Voice's blind transfer. The call
leaves our conference for the destination, so the session ends with one `redirected` event."""

import pytest

from sessions_app.models import CallState, Channel, EventKind, MemberCallState, SessionEvent
from tests.conftest import (
    FORMATS,
    MEDIA_TYPES,
    assert_failure_recorded,
    db_state,
    encode_request,
    error_status,
    wire_fields,
)
from tests.factories import CallSessionFactory, SessionMemberFactory


def redirect_url(session) -> str:
    return f"/sessions/{session.id}/redirect"


@pytest.mark.parametrize("fmt", FORMATS)
def test_redirect_in_each_format_ends_the_session(api, session, user, fmt):
    agent = SessionMemberFactory(session=session)
    body, content_type = encode_request(
        fmt, "RedirectSession", {"Destination": "+15557654321", "CallerId": "+15550002000"}
    )

    response = api.post(
        redirect_url(session), body, content_type=content_type, HTTP_ACCEPT=MEDIA_TYPES[fmt]
    )

    assert response.status_code == 200, response.content
    fields = wire_fields(response)
    assert (fields["CallState"], fields["Ended"]) == ("Disconnected", "true")
    session.refresh_from_db()
    assert session.ended and session.date_completed
    agent.refresh_from_db()
    assert agent.call_state == MemberCallState.NONE
    [event] = SessionEvent.objects.filter(session=session)
    assert (event.kind, event.actor) == (EventKind.REDIRECTED, user)
    assert event.data["destination"] == "+15557654321"
    assert event.message == (
        "Call transferred to +15557654321 (caller id +15550002000); session ended by alice via API"
    )


def test_caller_id_defaults_to_the_sessions_own_number(api, session):
    response = api.post(
        redirect_url(session), {"destination": "sip:desk@example.com"}, format="json"
    )

    assert response.status_code == 200
    [event] = SessionEvent.objects.filter(session=session)
    assert event.data["caller_id"] == session.to_address


def test_predefined_route(api, session):
    response = api.post(
        "/api/RedirectSession",
        {"sessionId": session.id, "destination": "+15557654321"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["ended"] is True


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "NotEmpty"),
        ({"destination": "nowhere"}, 400, "InvalidDestination"),
        ({"destination": "+15557654321", "callerId": "12"}, 400, "InvalidPhoneNumber"),
    ],
)
def test_bad_requests_change_nothing(api, session, body, status, code):
    before = db_state()

    response = api.post(redirect_url(session), body, format="json")

    assert response.status_code == status
    assert error_status(response)["errorCode"] == code
    assert db_state() == before


def test_ended_session_is_409(api, account):
    ended = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)
    before = db_state()

    response = api.post(redirect_url(ended), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 409
    assert db_state() == before


def test_chat_session_is_400(api, account):
    chat = CallSessionFactory(account=account, channel=Channel.CHAT)
    before = db_state()

    response = api.post(redirect_url(chat), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 400
    assert db_state() == before


def test_another_accounts_session_is_404(api, other_account):
    theirs = CallSessionFactory(account=other_account)
    before = db_state()

    response = api.post(redirect_url(theirs), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 404
    assert db_state() == before


def test_provider_failure_is_recorded_and_the_session_goes_on(api, session, failing_provider):
    failing_provider("redirect")
    before = db_state()

    response = api.post(redirect_url(session), {"destination": "+15557654321"}, format="json")

    assert response.status_code == 502
    assert_failure_recorded(before, action="transfer")
