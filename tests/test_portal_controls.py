"""The session detail page's call controls (member hold/resume/mute/unmute/remove, end call,
transfer, listen/coach/barge) and the rows' End call: plain forms and htmx, on the same
services as the API."""

import re

import pytest

from sessions_app.models import CallState, EventKind, MemberCallState, Role, SessionEvent
from tests.conftest import db_state
from tests.factories import CallSessionFactory, SessionMemberFactory, UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
DETAIL = {**HTMX, "HTTP_HX_TARGET": "session-detail"}


@pytest.fixture
def portal(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def manager(account):
    return UserFactory(
        username="maria", role=Role.MANAGER, accounts=[account], monitor_destination="client:maria"
    )


@pytest.fixture
def supervisor_portal(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def agent(session):
    return SessionMemberFactory(session=session, display_name="Bob Agent")


def buttons(html: str) -> list[str]:
    """The names of the buttons of the session's detail (not the page's header)."""
    detail = html[html.index('<article id="session-detail"') :]
    return re.findall(r"<button[^>]*>([^<]+)</button>", detail)


def test_detail_offers_every_control_the_state_allows(portal, session, agent):
    html = portal.get(f"/live/sessions/{session.id}").content.decode()

    assert buttons(html) == [
        "Hold",
        "Invite",
        "Transfer",
        "End call",
        # the caller: hold, mute (no remove: ending the session does that)
        "Hold",
        "Mute",
        # the agent
        "Hold",
        "Mute",
        "Remove",
    ]
    assert "Listen" not in buttons(html)  # a User is no supervisor


def test_detail_offers_supervisors_listen_coach_barge_prefilled(supervisor_portal, session):
    html = supervisor_portal.get(f"/live/sessions/{session.id}").content.decode()

    assert {"Listen", "Coach", "Barge"} <= set(buttons(html))
    assert 'name="destination" value="client:maria"' in html


def test_detail_of_an_ended_session_offers_nothing(portal, account):
    ended = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)

    html = portal.get(f"/live/sessions/{ended.id}").content.decode()

    assert buttons(html) == []


def test_mute_a_member_without_javascript_redirects_back(portal, session, agent):
    url = f"/live/sessions/{session.id}"

    response = portal.post(
        f"{url}/members/{agent.call_sid}", {"action": "mute", "next": url}, follow=True
    )

    assert response.redirect_chain == [(url, 302)]
    assert "Member muted." in response.content.decode()
    agent.refresh_from_db()
    assert agent.muted is True
    assert SessionEvent.objects.get(session=session).via == "portal"


def test_mute_a_member_with_htmx_answers_the_detail(portal, session, agent):
    response = portal.post(
        f"/live/sessions/{session.id}/members/{agent.call_sid}", {"action": "mute"}, **DETAIL
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<article id="session-detail"')
    assert "Unmute" in buttons(html)
    assert "Member muted." in response["HX-Trigger-After-Swap"]


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [
        ("hold", "call_state", MemberCallState.HOLD),
        ("remove", "call_state", MemberCallState.NONE),
    ],
)
def test_member_hold_and_remove(portal, session, agent, action, field, value):
    response = portal.post(
        f"/live/sessions/{session.id}/members/{agent.call_sid}", {"action": action}, **DETAIL
    )

    assert response.status_code == 200
    agent.refresh_from_db()
    assert getattr(agent, field) == value


def test_refused_member_action_says_why_and_changes_nothing(portal, session, agent):
    agent.muted = True
    agent.save(update_fields=["muted"])
    before = db_state()

    response = portal.post(
        f"/live/sessions/{session.id}/members/{agent.call_sid}", {"action": "mute"}, **DETAIL
    )

    assert "already muted" in response["HX-Trigger-After-Swap"]
    assert '"failed": true' in response["HX-Trigger-After-Swap"]
    assert db_state() == before


def test_end_call_from_the_detail(portal, session):
    response = portal.post(f"/live/sessions/{session.id}/end", **DETAIL)

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.ended
    assert "Call ended." in response["HX-Trigger-After-Swap"]


def test_end_call_from_a_row_removes_the_row(portal, session):
    response = portal.post(f"/live/sessions/{session.id}/end", {"next": "/"}, **HTMX)

    assert response.content == b""
    session.refresh_from_db()
    assert session.ended


def test_rows_offer_end_call(portal, session):
    html = portal.get("/").content.decode()

    assert f'aria-label="End call from {session.from_name}"' in html


def test_transfer_without_javascript(portal, session):
    url = f"/live/sessions/{session.id}"

    response = portal.post(
        f"{url}/transfer", {"destination": "+15557654321", "caller_id": "", "next": url}
    )

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.ended
    assert SessionEvent.objects.get(session=session).kind == EventKind.REDIRECTED


def test_listen_then_stop_with_htmx(supervisor_portal, session, manager):
    url = f"/live/sessions/{session.id}/monitor"

    response = supervisor_portal.post(url, {"mode": "Listen", "destination": ""}, **DETAIL)

    html = response.content.decode()
    assert "Monitored by maria (Listen) at client:maria" in html
    assert "Stop monitoring" in buttons(html)
    session.refresh_from_db()
    assert session.monitored_by == manager

    response = supervisor_portal.post(url, {"mode": "Leave"}, **DETAIL)

    assert "Stopped monitoring." in response["HX-Trigger-After-Swap"]
    session.refresh_from_db()
    assert not session.is_monitored


def test_a_user_may_not_monitor_from_the_portal(portal, session):
    before = db_state()

    response = portal.post(f"/live/sessions/{session.id}/monitor", {"mode": "Listen"}, **DETAIL)

    assert response.status_code == 403
    assert db_state() == before


def test_another_accounts_session_changes_nothing(portal, other_account):
    theirs = CallSessionFactory(account=other_account)
    before = db_state()

    response = portal.post(f"/live/sessions/{theirs.id}/end", **DETAIL)

    assert "That call is no longer available." in response["HX-Trigger-After-Swap"]
    assert db_state() == before
