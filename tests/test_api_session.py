"""GET and DELETE /sessions/{sessionId} (GetSession, EndSession), and ServiceStack's content
negotiation: `.ext` suffix, then `?format=`, then `Accept`, then JSON; JSONP via `?callback=`."""

import json
import re

import pytest
from django.utils import timezone

from sessions_app.models import (
    CallState,
    DialState,
    EventKind,
    HoldReason,
    MemberCallState,
    SessionEvent,
)
from sessions_app.services import get_provider
from sessions_app.telephony import TelephonyError
from tests.conftest import (
    CLOCK,
    FORMATS,
    MEDIA_TYPES,
    assert_failure_recorded,
    db_state,
    error_status,
    wire_fields,
)
from tests.factories import CallSessionFactory, SessionMemberFactory

# --- GET --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_in_each_format_changes_nothing(api, session, fmt):
    before = db_state()

    response = api.get(f"/sessions/{session.id}", HTTP_ACCEPT=MEDIA_TYPES[fmt])

    assert response.status_code == 200
    assert response["Content-Type"] == f"{MEDIA_TYPES[fmt]}; charset=utf-8"
    fields = wire_fields(response)
    assert (fields["Id"], fields["CallState"], fields["AccountName"]) == (
        session.id,
        "Connected",
        "Acme",
    )
    assert db_state() == before


@pytest.mark.parametrize(
    ("route", "media_type"),
    [
        ("/api/GetSession?sessionId={id}", "application/json"),
        ("/api/GetSession.xml?sessionId={id}", "application/xml"),
        ("/json/reply/GetSession?sessionId={id}", "application/json"),
        ("/xml/reply/GetSession?sessionId={id}", "application/xml"),
        ("/csv/reply/GetSession?sessionId={id}", "text/csv"),
    ],
)
def test_get_through_a_predefined_route(api, session, route, media_type):
    response = api.get(route.format(id=session.id))

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert wire_fields(response)["Id"] == session.id


def test_get_of_an_ended_session_still_answers(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)

    response = api.get(f"/sessions/{session.id}")

    assert response.status_code == 200
    assert (response.json()["ended"], response.json()["callState"]) == (True, "Disconnected")


def test_get_costs_two_queries_once_its_document_is_stored(
    api, complete_session, django_assert_num_queries
):
    SessionMemberFactory.create_batch(3, session=complete_session)

    # 1. the user (HTTP Basic)  2. the session's stored document, scoped to the user's
    # accounts: not fresh (never rendered), so  3. the session with account, customer and
    # endpoint joined  4. its members  5. its log  6. its breadcrumb's customers  7. the
    # document rendered from them stored
    with django_assert_num_queries(7):
        first = api.get(f"/sessions/{complete_session.id}")
    # 1. the user  2. the stored document, fresh
    with django_assert_num_queries(2):
        response = api.get(f"/sessions/{complete_session.id}")

    assert len(response.json()["members"]) == 4
    assert (response.content, response["ETag"]) == (first.content, first["ETag"])


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_get_in_xml_or_csv_costs_the_same_queries(
    api, complete_session, fmt, django_assert_num_queries
):
    # As in JSON: the XML and CSV are rendered from the values read back from the document.
    with django_assert_num_queries(7):
        api.get(f"/sessions/{complete_session.id}.{fmt}")
    with django_assert_num_queries(2):
        response = api.get(f"/sessions/{complete_session.id}.{fmt}")

    assert wire_fields(response)["Id"] == complete_session.id


def test_get_lists_members_and_log_oldest_first(api, session):
    agent = SessionMemberFactory(session=session, display_name="Agent")
    api.patch(f"/sessions/{session.id}", {"consoleData": "a"}, format="json")
    api.patch(f"/sessions/{session.id}", {"queueState": "Queued"}, format="json")

    body = api.get(f"/sessions/{session.id}").json()

    assert [m["callSid"] for m in body["members"]] == [session.call_sid, agent.call_sid]
    assert [e["message"] for e in body["log"]] == [
        "Console data updated by alice via API",
        "Queue state None -> Queued by alice via API",
    ]


# --- content negotiation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "media_type"),
    [(".json", "application/json"), (".xml", "application/xml"), (".csv", "text/csv")],
)
def test_suffix_chooses_the_format_over_accept(api, session, suffix, media_type):
    response = api.get(f"/sessions/{session.id}{suffix}", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert wire_fields(response)["Id"] == session.id


@pytest.mark.parametrize("fmt", FORMATS)
def test_format_query_chooses_the_format_over_accept(api, session, fmt):
    response = api.get(f"/sessions/{session.id}?format={fmt}", HTTP_ACCEPT="application/json")

    assert response["Content-Type"].startswith(MEDIA_TYPES[fmt])


def test_suffix_wins_over_the_format_query(api, session):
    response = api.get(f"/sessions/{session.id}.csv?format=xml")

    assert response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/xml", "application/xml"),
        ("text/xml", "application/xml"),
        ("text/csv", "text/csv"),
        ("text/json", "application/json"),
        ("text/html, application/xml;q=0.9", "application/xml"),
        ("*/*", "application/json"),
        ("text/html", "application/json"),
        ("", "application/json"),
    ],
)
def test_accept_header_chooses_the_format_and_json_is_the_default(api, session, accept, media_type):
    response = api.get(f"/sessions/{session.id}", HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)


def test_jsonp_wraps_the_json_in_the_callback(api, session):
    response = api.get(f"/sessions/{session.id}?callback=handleSession")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("handleSession(") and body.endswith(")")
    assert json.loads(body[len("handleSession(") : -1])["id"] == session.id


def test_jsonp_accepts_a_dotted_callback(api, session):
    response = api.get(f"/sessions/{session.id}.json?callback=app.sessions.$load_1")

    assert response["Content-Type"].startswith("application/javascript")
    assert response.content.startswith(b"app.sessions.$load_1({")


@pytest.mark.parametrize("suffix", ["?format=jsonp", ".jsonp"])
def test_jsonp_format_without_a_callback_is_plain_json_and_says_so(api, session, suffix):
    response = api.get(f"/sessions/{session.id}{suffix}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.content)["id"] == session.id


def test_jsonp_wraps_errors_too(api):
    response = api.get("/sessions/nope?callback=cb")

    assert response.status_code == 404
    assert response.content.startswith(b'cb({"responseStatus":')


# --- DELETE -----------------------------------------------------------------------------------


def assert_ended(session, user):
    """Ended as an ended session must be: disconnected, completed, off hold, nobody on it."""
    session.refresh_from_db()
    assert session.ended is True
    assert session.call_state == CallState.DISCONNECTED
    assert session.dial_state == DialState.NONE
    assert session.date_completed is not None
    assert (session.hold_reason, session.held_by_user_id) == (HoldReason.NONE, None)
    assert (session.hold_queue_name, session.held_at) == (None, None)
    assert {m.call_state for m in session.members.all()} == {MemberCallState.NONE}
    [entry] = SessionEvent.objects.filter(session=session)
    assert entry.kind == EventKind.ENDED
    assert entry.message == "Session ended by alice via API"
    assert (entry.actor, entry.via) == (user, "api")


@pytest.mark.parametrize("fmt", FORMATS)
def test_delete_ends_the_session_in_each_format(api, session, user, fmt):
    response = api.delete(f"/sessions/{session.id}", HTTP_ACCEPT=MEDIA_TYPES[fmt])

    assert response.status_code == 200
    assert response["Content-Type"].startswith(MEDIA_TYPES[fmt])
    fields = wire_fields(response)
    assert (fields["Ended"], fields["CallState"]) == ("true", "Disconnected")
    assert fields["DateCompleted"]
    assert_ended(session, user)


@pytest.mark.parametrize(
    ("method", "route", "media_type"),
    [
        ("delete", "/api/EndSession?sessionId={id}", "application/json"),
        ("post", "/api/EndSession?sessionId={id}", "application/json"),
        ("delete", "/json/reply/EndSession?sessionId={id}", "application/json"),
        ("post", "/xml/reply/EndSession?sessionId={id}", "application/xml"),
    ],
)
def test_delete_through_a_predefined_route(api, session, user, method, route, media_type):
    response = getattr(api, method)(route.format(id=session.id))

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert_ended(session, user)


def test_delete_with_the_sessions_own_call_sid_ends_the_session(api, session, user):
    SessionMemberFactory(session=session)

    response = api.delete(f"/sessions/{session.id}?callSid={session.call_sid}")

    assert response.status_code == 200
    assert_ended(session, user)


def test_delete_with_a_members_call_sid_hangs_up_only_that_member(api, session, user, monkeypatch):
    agent = SessionMemberFactory(session=session, display_name="Agent Bob")
    hung_up = []
    monkeypatch.setattr(get_provider(), "hangup", lambda *, call_sid: hung_up.append(call_sid))

    response = api.delete(f"/sessions/{session.id}?callSid={agent.call_sid}")

    assert response.status_code == 200
    assert hung_up == [agent.call_sid]
    body = response.json()
    assert (body["ended"], body["callState"]) == (False, "Connected")
    assert [m["callState"] for m in body["members"]] == ["Connected", "None"]
    session.refresh_from_db()
    assert (session.ended, session.call_state) == (False, CallState.CONNECTED)
    [event] = SessionEvent.objects.filter(session=session)
    assert event.kind == EventKind.MEMBER_LEFT
    assert event.data["members"] == {agent.call_sid: {"call_state": ["Connected", "None"]}}
    assert event.message == "Agent Bob hung up by alice via API"


def test_delete_of_a_member_who_already_left_is_409(api, session):
    gone = SessionMemberFactory(session=session, call_state=MemberCallState.NONE)
    before = db_state()

    response = api.delete(f"/sessions/{session.id}?callSid={gone.call_sid}")

    assert response.status_code == 409
    assert "already left" in error_status(response)["message"]
    assert db_state() == before


def test_delete_of_a_held_conference_clears_the_hold_and_every_member(api, account, user):
    session = CallSessionFactory(
        account=account,
        call_state=CallState.HOLD,
        hold_reason=HoldReason.TRANSFERRING,
        held_by_user_id=user.id,
        hold_queue_name="hold-1",
        held_at=timezone.now(),
        dial_state=DialState.ACTIVE,
    )
    SessionMemberFactory(session=session, call_state=MemberCallState.RINGING)
    SessionMemberFactory(session=session, call_state=MemberCallState.HOLD)

    response = api.delete(f"/sessions/{session.id}")

    assert response.status_code == 200
    assert_ended(session, user)


def test_delete_with_a_stranger_call_sid_is_400_and_changes_nothing(api, session):
    before = db_state()

    response = api.delete(f"/sessions/{session.id}?callSid=CAstranger")

    assert response.status_code == 400
    assert [e["fieldName"] for e in error_status(response)["errors"]] == ["CallSid"]
    assert db_state() == before


def test_delete_twice_is_409_and_changes_nothing(api, session):
    api.delete(f"/sessions/{session.id}")
    before = db_state()

    response = api.delete(f"/sessions/{session.id}")

    assert response.status_code == 409
    status = error_status(response)
    assert status["errorCode"] == "SessionEnded"
    assert re.fullmatch(
        rf"The session has already ended \(by alice via API at {CLOCK}\)", status["message"]
    )
    assert db_state() == before


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/hold", {}),
        ("patch", "", {"consoleData": "late"}),
        ("patch", "", {"callState": "Connected"}),
        ("post", "/conference/members", {"destination": "+15557654321"}),
    ],
)
def test_every_action_after_delete_is_409(api, session, method, path, body):
    api.delete(f"/sessions/{session.id}")
    before = db_state()

    response = getattr(api, method)(f"/sessions/{session.id}{path}", body, format="json")

    assert response.status_code == 409
    assert error_status(response)["errorCode"] == "SessionEnded"
    assert db_state() == before


def test_delete_provider_failure_is_502_and_changes_nothing(api, session, failing_provider):
    failing_provider("hangup")
    before = db_state()

    response = api.delete(f"/sessions/{session.id}")

    assert response.status_code == 502
    assert_failure_recorded(before, action="end", error="The provider is down")


def test_delete_failing_on_the_callers_leg_records_the_legs_already_hung_up(
    api, session, monkeypatch
):
    """The other legs go first; if the caller's own leg then fails, the session goes on, and
    what the provider did (the member hung up) is recorded with the failure."""
    agent = SessionMemberFactory(session=session)

    def hangup(*, call_sid):
        if call_sid == session.call_sid:
            raise TelephonyError("Call is not in a valid state")

    monkeypatch.setattr(get_provider(), "hangup", hangup)

    response = api.delete(f"/sessions/{session.id}")

    assert response.status_code == 502
    session.refresh_from_db()
    assert (session.ended, session.call_state) == (False, CallState.CONNECTED)
    states = dict(session.members.values_list("call_sid", "call_state"))
    assert states == {session.call_sid: "Connected", agent.call_sid: "None"}
    [event] = SessionEvent.objects.filter(session=session)
    assert event.kind == EventKind.PROVIDER_FAILED
    assert event.data["done"] == [f"hang up {agent.call_sid}"]
    assert event.data["members"] == {agent.call_sid: {"call_state": ["Connected", "None"]}}


# --- OPTIONS ----------------------------------------------------------------------------------


def test_options_lists_the_verbs_without_a_body(api, session):
    response = api.options(f"/sessions/{session.id}")

    assert response.status_code == 204
    assert response.content == b""
    assert response["Allow"] == "GET, PATCH, DELETE, HEAD, OPTIONS"


@pytest.mark.parametrize("verb", ["DELETE", "delete"])
def test_a_post_with_x_http_method_override_is_that_verb(api, session, verb):
    response = api.post(f"/sessions/{session.id}", HTTP_X_HTTP_METHOD_OVERRIDE=verb)

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.ended


def test_x_http_method_override_cannot_turn_a_post_into_a_read(api, session):
    """Only into another write: a read would skip the CSRF check a POST gets."""
    response = api.post(f"/sessions/{session.id}/hold", HTTP_X_HTTP_METHOD_OVERRIDE="GET")

    assert response.status_code == 200  # the POST it is: a hold
    session.refresh_from_db()
    assert session.call_state == "Hold"
