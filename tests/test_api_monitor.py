"""POST /sessions/{sessionId}/monitor (MonitorSession): a supervisor listens, coaches or barges
in, switches mode and leaves. The supervisor's leg is recorded on the session, never as a
member, and SessionInfo stays Evo Voice's."""

import pytest

from sessions_app.models import CallState, EventKind, MemberRole, Role, SessionEvent
from tests.conftest import (
    FORMATS,
    MEDIA_TYPES,
    api_client_as,
    db_state,
    encode_request,
    error_status,
    provider_reports,
    wire_fields,
)
from tests.factories import CallSessionFactory, SessionMemberFactory, UserFactory


@pytest.fixture
def manager(account):
    return UserFactory(username="maria", role=Role.MANAGER, accounts=[account])


@pytest.fixture
def supervisor_api(manager):
    return api_client_as(manager)


@pytest.fixture
def agent(session):
    session.conference_sid = "CF" + "2" * 32
    session.save(update_fields=["conference_sid"])
    return SessionMemberFactory(session=session, role=MemberRole.AGENT, display_name="Bob")


def monitor_url(session) -> str:
    return f"/sessions/{session.id}/monitor"


def events(session) -> list[SessionEvent]:
    return list(SessionEvent.objects.filter(session=session).order_by("seq"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_listen_in_each_format(supervisor_api, session, agent, manager, fmt):
    members_before = wire_fields(supervisor_api.get(f"/sessions/{session.id}"))["Members"]
    body, content_type = encode_request(
        fmt, "MonitorSession", {"Mode": "Listen", "Destination": "client:maria"}
    )

    response = supervisor_api.post(
        monitor_url(session), body, content_type=content_type, HTTP_ACCEPT=MEDIA_TYPES[fmt]
    )

    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert (session.monitored_by, session.monitor_mode) == (manager, "Listen")
    assert session.monitor_call_sid.startswith("CA")
    assert session.monitor_destination == "client:maria"
    # Not a member: SessionInfo lists the same members as before.
    assert session.members.count() == 2
    if fmt == "json":
        assert response.json()["members"] == members_before
    [event] = events(session)
    assert (event.kind, event.actor) == (EventKind.MONITOR_STARTED, manager)
    assert event.message == "Monitoring started: Listen, ringing client:maria by maria via API"


def test_destination_defaults_to_the_profile(supervisor_api, session, agent, manager):
    manager.monitor_destination = "+15559990000"
    manager.save(update_fields=["monitor_destination"])

    response = supervisor_api.post(monitor_url(session), {"mode": "Barge"}, format="json")

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.monitor_mode, session.monitor_destination) == ("Barge", "+15559990000")


def test_switching_mode_does_not_ring_again(supervisor_api, session, agent):
    supervisor_api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )
    session.refresh_from_db()
    leg = session.monitor_call_sid

    response = supervisor_api.post(monitor_url(session), {"mode": "Coach"}, format="json")

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.monitor_mode, session.monitor_call_sid) == ("Coach", leg)
    changed = events(session)[-1]
    assert changed.kind == EventKind.MONITOR_CHANGED
    assert changed.message == "Monitoring changed to Coach (was Listen) by maria via API"


def test_the_same_mode_again_changes_nothing(supervisor_api, session, agent):
    supervisor_api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )
    before = db_state()

    response = supervisor_api.post(monitor_url(session), {"mode": "Listen"}, format="json")

    assert response.status_code == 200
    assert db_state() == before


def test_leave_hangs_up_and_stops_monitoring(supervisor_api, session, agent):
    supervisor_api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )

    response = supervisor_api.post(monitor_url(session), {"leave": True}, format="json")

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.monitored_by, session.monitor_mode, session.monitor_call_sid) == (
        None,
        "",
        None,
    )
    assert events(session)[-1].message == "Monitoring by maria ended by maria via API"


def test_leave_when_nobody_monitors_is_409(supervisor_api, session, agent):
    before = db_state()

    response = supervisor_api.post(monitor_url(session), {"leave": True}, format="json")

    assert response.status_code == 409
    assert error_status(response)["message"] == (
        "Cannot stop monitoring: nobody is monitoring this call"
    )
    assert db_state() == before


def test_another_supervisor_is_refused_while_one_monitors(supervisor_api, session, agent, account):
    supervisor_api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )
    other = api_client_as(UserFactory(role=Role.MANAGER, accounts=[account]))
    before = db_state()

    response = other.post(
        monitor_url(session), {"mode": "Barge", "destination": "client:x"}, format="json"
    )

    assert response.status_code == 409
    assert error_status(response)["message"].startswith(
        "Cannot monitor: maria is already monitoring this call (Listen) since "
    )
    assert db_state() == before


def test_coach_without_an_agent_is_409(supervisor_api, session):
    before = db_state()

    response = supervisor_api.post(
        monitor_url(session), {"mode": "Coach", "destination": "client:m"}, format="json"
    )

    assert response.status_code == 409
    assert error_status(response)["message"] == "Cannot coach: no agent is on the call"
    assert db_state() == before


def test_ringing_call_cannot_be_monitored(supervisor_api, account):
    ringing = CallSessionFactory(account=account, call_state=CallState.RINGING)
    before = db_state()

    response = supervisor_api.post(
        monitor_url(ringing), {"mode": "Listen", "destination": "client:m"}, format="json"
    )

    assert response.status_code == 409
    assert db_state() == before


@pytest.mark.parametrize(
    ("body", "code"),
    [({"destination": "client:m"}, "NotEmpty"), ({"mode": "Shout"}, "InvalidEnum")],
)
def test_bad_requests_change_nothing(supervisor_api, session, agent, body, code):
    before = db_state()

    response = supervisor_api.post(monitor_url(session), body, format="json")

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == code
    assert db_state() == before


def test_no_destination_and_none_in_the_profile_is_400(supervisor_api, session, agent):
    response = supervisor_api.post(monitor_url(session), {"mode": "Listen"}, format="json")

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "NotEmpty"


def test_a_user_is_not_a_supervisor(api, session, agent):
    before = db_state()

    response = api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )

    assert response.status_code == 403
    assert error_status(response)["message"] == "Invalid Role"
    assert db_state() == before


def test_another_accounts_session_is_404(supervisor_api, other_account):
    theirs = CallSessionFactory(account=other_account)

    response = supervisor_api.post(
        monitor_url(theirs), {"mode": "Listen", "destination": "client:m"}, format="json"
    )

    assert response.status_code == 404


def test_predefined_route(supervisor_api, session, agent):
    response = supervisor_api.post(
        "/json/reply/MonitorSession",
        {"sessionId": session.id, "mode": "Barge", "destination": "client:m"},
        format="json",
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.monitor_mode == "Barge"


def test_ending_the_session_hangs_up_the_supervisor(supervisor_api, session, agent):
    supervisor_api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )

    response = supervisor_api.delete(f"/sessions/{session.id}")

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.ended and session.monitor_call_sid is None and session.monitor_mode == ""


def test_the_supervisor_hanging_up_ends_monitoring(supervisor_api, session, agent):
    supervisor_api.post(
        monitor_url(session), {"mode": "Listen", "destination": "client:m"}, format="json"
    )
    session.refresh_from_db()

    provider_reports(session.monitor_call_sid, "completed", status="completed")

    session.refresh_from_db()
    assert (session.monitor_mode, session.monitor_call_sid) == ("", None)
    ended = events(session)[-1]
    assert ended.kind == EventKind.MONITOR_ENDED
    assert ended.message == (
        "Monitoring by maria ended: the supervisor's call ended (via provider)"
    )
