"""The call controls end to end against the fake Twilio REST API: each API operation sends
exactly the request Twilio documents (method, path, form parameters in order) and records what
Twilio did."""

import pytest

from sessions_app.models import EventKind, MemberCallState, MemberRole, Role
from sessions_app.services import get_provider
from tests.conftest import TWILIO_ACCOUNT_SID, api_client_as
from tests.factories import CallSessionFactory, SessionMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCOUNT = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}"


@pytest.fixture
def in_conference(twilio, account):
    """A connected session whose caller and agent are in its conference at Twilio."""
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")
    twilio.run_twiml(
        params["CallSid"], get_provider().conference_twiml("session-c", wait_for_others=False)
    )
    conference_sid = twilio.conference_named("session-c").sid
    session = CallSessionFactory(
        account=account,
        call_sid=params["CallSid"],
        to_address="+15550002222",
        conference_sid=conference_sid,
    )
    agent_sid = get_provider().dial_into_conference(
        conference_sid=conference_sid, destination="client:bob", from_number="+15550002222"
    )
    twilio.answer(agent_sid)
    agent = SessionMemberFactory(session=session, call_sid=agent_sid, role=MemberRole.AGENT)
    twilio.requests.clear()
    return session, agent


def participant_path(session, call_sid) -> str:
    return f"{ACCOUNT}/Conferences/{session.conference_sid}/Participants/{call_sid}.json"


def test_update_member_mutes_then_holds_the_participant(twilio, api, in_conference):
    session, agent = in_conference

    response = api.patch(
        f"/sessions/{session.id}/conference/members/{agent.call_sid}",
        {"hold": True, "muted": True},
        format="json",
    )

    assert response.status_code == 200, response.content
    hold, mute = twilio.requests
    assert (hold.method, hold.path) == ("POST", participant_path(session, agent.call_sid))
    assert [name for name, _ in hold.form] == ["Hold", "HoldUrl", "HoldMethod"]
    assert hold.form[0] == ("Hold", "true")
    assert (mute.path, mute.form) == (
        participant_path(session, agent.call_sid),
        [("Muted", "true")],
    )
    participant = twilio.participant(agent.call_sid)
    assert (participant["hold"], participant["muted"]) == (True, True)
    agent.refresh_from_db()
    assert (agent.call_state, agent.muted) == (MemberCallState.HOLD, True)


def test_remove_member_deletes_the_participant(twilio, api, in_conference):
    session, agent = in_conference

    response = api.delete(f"/sessions/{session.id}/conference/members/{agent.call_sid}")

    assert response.status_code == 200
    [request] = twilio.requests
    assert (request.method, request.path, request.form) == (
        "DELETE",
        participant_path(session, agent.call_sid),
        [],
    )
    assert twilio.participant(agent.call_sid) is None
    assert session.events.get().kind == EventKind.MEMBER_REMOVED


def test_redirect_updates_the_call_with_dial_twiml(twilio, api, in_conference):
    session, _ = in_conference

    response = api.post(
        f"/sessions/{session.id}/redirect",
        {"destination": "+15557654321", "callerId": "+15550003333"},
        format="json",
    )

    assert response.status_code == 200
    [request] = twilio.requests
    assert (request.method, request.path) == ("POST", f"{ACCOUNT}/Calls/{session.call_sid}.json")
    assert request.form == [
        (
            "Twiml",
            '<?xml version="1.0" encoding="UTF-8"?><Response>'
            '<Dial callerId="+15550003333"><Number>+15557654321</Number></Dial></Response>',
        )
    ]
    assert twilio.calls[session.call_sid]["redirected_to"] == "+15557654321"
    session.refresh_from_db()
    assert session.ended


def test_monitor_listen_coach_and_leave(twilio, account, in_conference):
    session, agent = in_conference
    supervisor = api_client_as(UserFactory(role=Role.MANAGER, accounts=[account]))
    url = f"/sessions/{session.id}/monitor"

    listen = supervisor.post(url, {"mode": "Listen", "destination": "client:sup"}, format="json")

    assert listen.status_code == 200
    [dial] = twilio.requests
    assert dial.path == f"{ACCOUNT}/Conferences/{session.conference_sid}/Participants.json"
    assert ("To", "client:sup") in dial.form and ("Muted", "true") in dial.form
    assert ("From", "+15550002222") in dial.form
    session.refresh_from_db()
    leg = session.monitor_call_sid
    assert twilio.participant(leg)["muted"] is True

    twilio.requests.clear()
    coach = supervisor.post(url, {"mode": "Coach"}, format="json")

    assert coach.status_code == 200
    [switch] = twilio.requests
    assert (switch.path, switch.form) == (
        participant_path(session, leg),
        [("Muted", "false"), ("Coaching", "true"), ("CallSidToCoach", agent.call_sid)],
    )
    assert twilio.participant(leg)["coaching"] is True

    twilio.requests.clear()
    leave = supervisor.post(url, {"leave": True}, format="json")

    assert leave.status_code == 200
    [hangup] = twilio.requests
    assert (hangup.path, hangup.form) == (f"{ACCOUNT}/Calls/{leg}.json", [("Status", "completed")])
    session.refresh_from_db()
    assert session.monitor_call_sid is None
