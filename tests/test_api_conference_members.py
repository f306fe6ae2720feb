"""PATCH and DELETE /sessions/{sessionId}/conference/members/{callSid} (UpdateConferenceMember,
RemoveConferenceMember): holding, muting and removing one conference member, and every way
they are refused."""

import pytest

from sessions_app.models import CallState, EventKind, MemberCallState, SessionEvent, SessionMember
from tests.conftest import (
    FORMATS,
    MEDIA_TYPES,
    api_client_as,
    assert_failure_recorded,
    db_state,
    encode_request,
    error_status,
    wire_fields,
)
from tests.factories import CallSessionFactory, SessionMemberFactory, UserFactory


@pytest.fixture
def conference(session):
    """The session in a conference with a connected agent member."""
    session.conference_sid = "CF" + "1" * 32
    session.save(update_fields=["conference_sid"])
    agent = SessionMemberFactory(session=session, display_name="Bob Agent")
    return session, agent


def member_url(session, call_sid) -> str:
    return f"/sessions/{session.id}/conference/members/{call_sid}"


def only_event(session) -> SessionEvent:
    [event] = SessionEvent.objects.filter(session=session)
    return event


@pytest.mark.parametrize("fmt", FORMATS)
def test_mute_a_member_in_each_format(api, conference, user, fmt):
    session, agent = conference
    body, content_type = encode_request(fmt, "UpdateConferenceMember", {"Muted": "true"})

    response = api.patch(
        member_url(session, agent.call_sid),
        body,
        content_type=content_type,
        HTTP_ACCEPT=MEDIA_TYPES[fmt],
    )

    assert response.status_code == 200, response.content
    assert response["ETag"]
    assert wire_fields(response)["Id"] == session.id
    agent.refresh_from_db()
    assert agent.muted is True
    event = only_event(session)
    assert (event.kind, event.actor, event.via) == (EventKind.MEMBER_MUTED, user, "api")
    assert event.message == "Bob Agent muted by alice via API"


def test_unmute_a_muted_member(api, conference):
    session, agent = conference
    agent.muted = True
    agent.save(update_fields=["muted"])

    response = api.patch(member_url(session, agent.call_sid), {"muted": False}, format="json")

    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.muted is False
    assert only_event(session).kind == EventKind.MEMBER_UNMUTED


def test_hold_a_member_holds_its_leg_only(api, conference):
    session, agent = conference

    response = api.patch(member_url(session, agent.call_sid), {"hold": True}, format="json")

    assert response.status_code == 200
    agent.refresh_from_db()
    session.refresh_from_db()
    assert agent.call_state == MemberCallState.HOLD and agent.hold_queue_name
    assert session.call_state == CallState.CONNECTED
    event = only_event(session)
    assert event.kind == EventKind.MEMBER_HELD
    assert event.message == "Bob Agent put on hold by alice via API"


def test_hold_the_sessions_own_call_holds_the_session(api, conference, user):
    session, _ = conference

    response = api.patch(member_url(session, session.call_sid), {"hold": True}, format="json")

    assert response.status_code == 200
    assert response.json()["callState"] == "Hold"
    session.refresh_from_db()
    assert session.held_by_user_id == user.id
    assert only_event(session).kind == EventKind.HELD


def test_resume_a_held_member(api, conference):
    session, agent = conference
    agent.call_state = MemberCallState.HOLD
    agent.save(update_fields=["call_state"])

    response = api.patch(member_url(session, agent.call_sid), {"hold": False}, format="json")

    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.call_state == MemberCallState.CONNECTED
    assert only_event(session).kind == EventKind.MEMBER_RESUMED


def test_hold_and_mute_at_once_is_one_event(api, conference):
    session, agent = conference

    response = api.patch(
        member_url(session, agent.call_sid), {"hold": True, "muted": True}, format="json"
    )

    assert response.status_code == 200
    agent.refresh_from_db()
    assert (agent.call_state, agent.muted) == (MemberCallState.HOLD, True)
    event = only_event(session)
    assert event.kind == EventKind.MEMBER_HELD
    assert event.data["also"] == [EventKind.MEMBER_MUTED]
    assert event.message == "Bob Agent put on hold; Bob Agent muted by alice via API"


def test_nothing_asked_changes_nothing(api, conference):
    session, agent = conference
    before = db_state()

    response = api.patch(member_url(session, agent.call_sid), {}, format="json")

    assert response.status_code == 200
    assert db_state() == before


@pytest.mark.parametrize(
    ("setup", "body", "message"),
    [
        ({"muted": True}, {"muted": True}, "Cannot mute: the member is already muted ("),
        ({}, {"muted": False}, "Cannot unmute: the member is not muted ("),
        (
            {"call_state": MemberCallState.HOLD},
            {"hold": True},
            "Cannot hold: the member is already on hold (",
        ),
        ({}, {"hold": False}, "Cannot resume: the member's call is Connected"),
    ],
)
def test_asking_for_the_state_a_member_is_in_is_409(api, conference, setup, body, message):
    session, agent = conference
    SessionMember.objects.filter(pk=agent.pk).update(**setup)
    before = db_state()

    response = api.patch(member_url(session, agent.call_sid), body, format="json")

    assert response.status_code == 409
    assert error_status(response)["message"].startswith(message)
    assert db_state() == before


def test_unknown_call_sid_is_400_and_changes_nothing(api, conference):
    session, _ = conference
    before = db_state()

    response = api.patch(member_url(session, "CAnobody"), {"muted": True}, format="json")

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "NotFound"
    assert db_state() == before


def test_ended_session_is_409(api, account):
    ended = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)
    before = db_state()

    response = api.patch(member_url(ended, ended.call_sid), {"muted": True}, format="json")

    assert response.status_code == 409
    assert db_state() == before


def test_another_accounts_session_is_404(api, other_account):
    theirs = CallSessionFactory(account=other_account)
    before = db_state()

    response = api.delete(member_url(theirs, theirs.call_sid))

    assert response.status_code == 404
    assert db_state() == before


def test_provider_failure_is_502_and_recorded(api, conference, failing_provider):
    session, agent = conference
    failing_provider("mute")
    before = db_state()

    response = api.patch(member_url(session, agent.call_sid), {"muted": True}, format="json")

    assert response.status_code == 502
    assert_failure_recorded(before, action="update member")


@pytest.mark.parametrize(
    "route", ["/api/UpdateConferenceMember", "/json/reply/UpdateConferenceMember"]
)
def test_predefined_routes(api, conference, route):
    session, agent = conference

    response = api.post(
        route, {"sessionId": session.id, "callSid": agent.call_sid, "muted": True}, format="json"
    )

    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.muted is True


# --- RemoveConferenceMember -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_remove_a_member_in_each_format(api, conference, user, fmt):
    session, agent = conference

    response = api.delete(member_url(session, agent.call_sid), HTTP_ACCEPT=MEDIA_TYPES[fmt])

    assert response.status_code == 200
    assert response["Content-Type"].startswith(MEDIA_TYPES[fmt])
    agent.refresh_from_db()
    assert agent.call_state == MemberCallState.NONE
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED and not session.ended
    event = only_event(session)
    assert (event.kind, event.actor) == (EventKind.MEMBER_REMOVED, user)
    assert event.message == "Bob Agent removed from the conference by alice via API"


def test_remove_the_sessions_own_call_is_400(api, conference):
    session, _ = conference
    before = db_state()

    response = api.delete(member_url(session, session.call_sid))

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "SessionCall"
    assert db_state() == before


def test_remove_a_member_who_left_is_409(api, conference):
    session, agent = conference
    SessionMember.objects.filter(pk=agent.pk).update(call_state=MemberCallState.NONE)
    before = db_state()

    response = api.delete(member_url(session, agent.call_sid))

    assert response.status_code == 409
    assert (
        "Cannot remove: that member has already left the call"
        in (error_status(response)["message"])
    )
    assert db_state() == before


def test_remove_via_predefined_route(api, conference):
    session, agent = conference

    response = api.post(
        "/json/reply/RemoveConferenceMember",
        {"sessionId": session.id, "callSid": agent.call_sid},
        format="json",
    )

    assert response.status_code == 200
    assert only_event(session).kind == EventKind.MEMBER_REMOVED


def test_user_without_a_role_is_403(account, conference):
    session, agent = conference
    nobody = UserFactory(role="", accounts=[account])

    response = api_client_as(nobody).delete(member_url(session, agent.call_sid))

    assert response.status_code == 403
