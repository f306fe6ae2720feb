"""PATCH /sessions/{sessionId} (PatchSession): console data, queue state, hold reason and every
call-state move of `CALL_STATE_TRANSITIONS`, legal and illegal."""

import itertools
import re

import pytest

from sessions_app.models import (
    CALL_STATE_TRANSITIONS,
    CallSession,
    CallState,
    EventKind,
    HoldReason,
    MemberCallState,
    QueueState,
    SessionEvent,
)
from tests.conftest import (
    CLOCK,
    FORMATS,
    MEDIA_TYPES,
    db_state,
    encode_request,
    error_status,
    wire_fields,
)
from tests.factories import CallSessionFactory

MOVES = [
    (current, target)
    for current, target in itertools.product(CALL_STATE_TRANSITIONS, CallState.values())
    if current != target
]
LEGAL_MOVES = [(c, t) for c, t in MOVES if t in CALL_STATE_TRANSITIONS[c]]
ILLEGAL_MOVES = [(c, t) for c, t in MOVES if t not in CALL_STATE_TRANSITIONS[c]]


def log_of(session) -> list[SessionEvent]:
    return list(SessionEvent.objects.filter(session=session).order_by("seq"))


def test_the_transition_table_covers_every_call_state():
    assert set(CALL_STATE_TRANSITIONS) == set(CallState.values())
    assert CALL_STATE_TRANSITIONS[CallState.DISCONNECTED] == frozenset()


@pytest.mark.parametrize(("current", "target"), LEGAL_MOVES)
def test_legal_call_state_move_is_made_and_logged(api, account, user, current, target):
    session = CallSessionFactory(account=account, call_state=current)

    response = api.patch(f"/sessions/{session.id}", {"callState": target}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["callState"] == target
    session.refresh_from_db()
    assert session.call_state == target
    assert session.ended is (target == CallState.DISCONNECTED)
    [entry] = log_of(session)
    assert entry.message.endswith("by alice via API")
    assert (entry.actor, entry.via) == (user, "api")


@pytest.mark.parametrize(("current", "target"), ILLEGAL_MOVES)
def test_illegal_call_state_move_is_409_naming_the_state_and_changes_nothing(
    api, account, current, target
):
    session = CallSessionFactory(account=account, call_state=current)
    before = db_state()

    response = api.patch(f"/sessions/{session.id}", {"callState": target}, format="json")

    assert response.status_code == 409
    message = error_status(response)["message"]
    if current == CallState.DISCONNECTED:
        # An ended session refuses every action with one message (see SessionEnded).
        assert re.fullmatch(rf"The session has already ended \(at {CLOCK}\)", message)
    else:
        state = "on hold" if current == CallState.HOLD else current
        assert re.search(f": the call is {state} since {CLOCK}$", message)
    assert db_state() == before


@pytest.mark.parametrize("state", sorted(set(CallState.values()) - {CallState.DISCONNECTED}))
def test_patch_to_the_current_call_state_changes_nothing(api, account, state):
    session = CallSessionFactory(account=account, call_state=state)
    before = db_state()

    response = api.patch(f"/sessions/{session.id}", {"callState": state}, format="json")

    assert response.status_code == 200
    assert response.json()["callState"] == state
    assert db_state() == before


def test_patch_to_hold_twice_logs_once(api, session):
    api.patch(f"/sessions/{session.id}", {"callState": "Hold"}, format="json")
    before = db_state()

    response = api.patch(f"/sessions/{session.id}", {"callState": "Hold"}, format="json")

    assert response.status_code == 200
    assert db_state() == before


def test_patch_hold_to_connected_resumes_and_clears_the_hold(api, session):
    api.post(f"/sessions/{session.id}/hold", {"reason": "Transferring"}, format="json")
    session.refresh_from_db()
    assert (session.hold_reason, session.hold_queue_name) == (
        "Transferring",
        "hold-" + session.call_sid[-8:],
    )

    response = api.patch(f"/sessions/{session.id}", {"callState": "Connected"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["callState"], body["holdReason"]) == ("Connected", "None")
    assert "heldByUserId" not in body and "holdQueueName" not in body
    assert [m["callState"] for m in body["members"]] == ["Connected"]
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert session.hold_reason == HoldReason.NONE
    assert session.held_by_user_id is None and session.hold_queue_name is None
    assert list(session.members.values_list("call_state", flat=True)) == ["Connected"]
    assert log_of(session)[-1].message == "Resumed from hold by alice via API"


def test_patch_ringing_to_connected_connects_the_caller(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)

    response = api.patch(f"/sessions/{session.id}", {"callState": "Connected"}, format="json")

    assert response.status_code == 200
    assert [m["callState"] for m in response.json()["members"]] == ["Connected"]
    # ... so the call can then be held.
    assert api.post(f"/sessions/{session.id}/hold").status_code == 200


def test_patch_to_disconnected_ends_the_session(api, session):
    response = api.patch(f"/sessions/{session.id}", {"callState": "Disconnected"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["ended"], body["callState"]) == (True, "Disconnected")
    assert "dateCompleted" in body
    session.refresh_from_db()
    assert session.ended and session.date_completed is not None


def test_patch_to_hold_with_a_hold_reason(api, session, user):
    response = api.patch(
        f"/sessions/{session.id}",
        {"callState": "Hold", "holdReason": "Transferring"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["holdReason"] == "Transferring"
    session.refresh_from_db()
    assert (session.call_state, session.hold_reason) == ("Hold", "Transferring")
    assert session.held_by_user_id == user.id
    [entry] = log_of(session)
    assert "put on hold (Transferring)" in entry.message


def test_patch_hold_reason_of_a_connected_call_is_409(api, session):
    before = db_state()

    response = api.patch(f"/sessions/{session.id}", {"holdReason": "Transferring"}, format="json")

    assert response.status_code == 409
    assert re.fullmatch(
        f"Cannot set a hold reason: the call is Connected since {CLOCK}",
        error_status(response)["message"],
    )
    assert db_state() == before


def test_patch_refused_move_keeps_the_other_fields_of_the_request(api, session):
    before = db_state()

    response = api.patch(
        f"/sessions/{session.id}",
        {"consoleData": "lost", "queueState": "Queued", "callState": "Ringing"},
        format="json",
    )

    assert response.status_code == 409
    assert db_state() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_patch_in_each_format(api, session, user, fmt):
    body, content_type = encode_request(
        fmt, "PatchSession", {"ConsoleData": "VIP, call back", "QueueState": "Queued"}
    )

    response = api.patch(
        f"/sessions/{session.id}", body, content_type=content_type, HTTP_ACCEPT=MEDIA_TYPES[fmt]
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith(MEDIA_TYPES[fmt])
    fields = wire_fields(response)
    assert (fields["ConsoleData"], fields["QueueState"]) == ("VIP, call back", "Queued")
    session.refresh_from_db()
    assert (session.console_data, session.queue_state) == ("VIP, call back", QueueState.QUEUED)
    # One PATCH, one event: named by its most significant change, the other one an "also".
    [event] = log_of(session)
    assert event.kind == EventKind.QUEUE_STATE_CHANGED
    assert event.data["also"] == [EventKind.CONSOLE_DATA_CHANGED]
    assert event.data["changes"] == {
        "queue_state": ["None", "Queued"],
        "console_data": [None, "VIP, call back"],
    }
    assert event.message == "Queue state None -> Queued; console data updated by alice via API"


@pytest.mark.parametrize(
    ("method", "route", "media_type"),
    [
        ("patch", "/api/PatchSession", "application/json"),
        ("post", "/api/PatchSession", "application/json"),
        ("patch", "/json/reply/PatchSession", "application/json"),
        ("post", "/xml/reply/PatchSession", "application/xml"),
    ],
)
def test_patch_through_a_predefined_route(api, session, method, route, media_type):
    body = {"sessionId": session.id, "consoleData": "note", "callState": "Hold"}

    response = getattr(api, method)(route, body, format="json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert wire_fields(response)["CallState"] == "Hold"
    session.refresh_from_db()
    assert (session.console_data, session.call_state) == ("note", CallState.HOLD)
    [event] = log_of(session)
    assert (event.kind, event.data["also"]) == (EventKind.HELD, [EventKind.CONSOLE_DATA_CHANGED])


def test_patch_reads_the_query_string(api, session):
    response = api.patch(f"/sessions/{session.id}?consoleData=from%20query&queueState=Queued")

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.console_data, session.queue_state) == ("from query", QueueState.QUEUED)


def test_patch_reads_a_form_body(api, session):
    response = api.patch(
        f"/sessions/{session.id}",
        "consoleData=from+form&callState=Hold",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.console_data, session.call_state) == ("from form", CallState.HOLD)


def test_patch_body_wins_over_the_query_string(api, session):
    response = api.patch(
        f"/sessions/{session.id}?consoleData=query", {"consoleData": "body"}, format="json"
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.console_data == "body"


def test_patch_path_session_id_wins_over_the_body(api, session, account):
    decoy = CallSessionFactory(account=account)
    before_decoy = CallSession.objects.filter(pk=decoy.pk).values().get()

    response = api.patch(
        f"/sessions/{session.id}", {"SessionId": decoy.id, "consoleData": "x"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == session.id
    session.refresh_from_db()
    assert session.console_data == "x"
    assert CallSession.objects.filter(pk=decoy.pk).values().get() == before_decoy


def test_patch_matches_keys_and_enum_names_case_insensitively(api, session):
    response = api.patch(
        f"/sessions/{session.id}",
        '{"CONSOLEDATA": "x", "queuestate": "queued", "CallState": "HOLD"}',
        content_type="application/json",
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.console_data, session.queue_state, session.call_state) == (
        "x",
        "Queued",
        "Hold",
    )


def test_patch_console_data_null_clears_it(api, account):
    session = CallSessionFactory(account=account, console_data="old")

    response = api.patch(f"/sessions/{session.id}", {"consoleData": None}, format="json")

    assert response.status_code == 200
    assert "consoleData" not in response.json()
    session.refresh_from_db()
    assert session.console_data is None


def test_patch_xml_nil_console_data_clears_it(api, account):
    session = CallSessionFactory(account=account, console_data="old")
    body = (
        '<PatchSession xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns="http://schemas.datacontract.org/2004/07/Voice.Api.Sessions">'
        '<ConsoleData i:nil="true" /></PatchSession>'
    )

    response = api.patch(f"/sessions/{session.id}", body, content_type="application/xml")

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.console_data is None


def test_patch_empty_enum_means_unchanged(api, session):
    before = db_state()

    response = api.patch(
        f"/sessions/{session.id}", {"callState": "", "queueState": ""}, format="json"
    )

    assert response.status_code == 200
    assert db_state() == before


def test_patch_resume_of_a_held_session_reconnects_its_caller(api, account):
    session = CallSessionFactory(account=account, call_state=CallState.HOLD)

    response = api.patch(f"/sessions/{session.id}", {"callState": "Connected"}, format="json")

    assert response.status_code == 200
    assert list(session.members.values_list("call_state", flat=True)) == [MemberCallState.CONNECTED]
