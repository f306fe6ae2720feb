"""ServiceStack's auto-batched requests (`/api/{Operation}[]`, `/json/reply/{Operation}[]`): a
JSON array of one operation's requests, executed in order as if sent one by one; the first
failure stops the batch and says which request failed."""

import json

import pytest

from sessions_app.models import CallState, SessionEvent
from tests.conftest import db_state, error_status
from tests.factories import CallSessionFactory


@pytest.mark.parametrize("route", ["/api/GetSession[]", "/json/reply/GetSession[]"])
def test_a_batch_of_reads_answers_each_in_order(api, account, route):
    first, second = CallSessionFactory(account=account), CallSessionFactory(account=account)

    response = api.post(route, [{"sessionId": second.id}, {"sessionId": first.id}], format="json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["X-AutoBatch-Completed"] == "2"
    assert [item["id"] for item in json.loads(response.content)] == [second.id, first.id]
    single = api.get(f"/sessions/{first.id}")
    assert json.loads(response.content)[1] == single.json()


def test_a_batch_honours_jsconfig_as_a_single_answer_does(api, account):
    session = CallSessionFactory(account=account)

    response = api.post(
        "/api/GetSession[]?jsconfig=elun", [{"sessionId": session.id}], format="json"
    )

    [item] = json.loads(response.content)
    assert item["id"] == session.id and item["call_state"] == "Connected"
    assert item == api.get(f"/sessions/{session.id}?jsconfig=elun").json()


def test_a_batch_of_writes_acts_on_each(api, account):
    sessions = [CallSessionFactory(account=account) for _ in range(3)]

    response = api.post(
        "/api/HoldSession[]",
        [{"sessionId": s.id, "reason": "Transferring"} for s in sessions],
        format="json",
    )

    assert response.status_code == 200
    assert [item["callState"] for item in json.loads(response.content)] == ["Hold"] * 3
    for session in sessions:
        session.refresh_from_db()
        assert session.call_state == CallState.HOLD
        assert SessionEvent.objects.filter(session=session, kind="held").count() == 1


def test_the_first_failure_stops_the_batch_and_says_where(api, account):
    held = CallSessionFactory(account=account)
    ringing = CallSessionFactory(account=account, call_state=CallState.RINGING)
    untouched = CallSessionFactory(account=account)

    response = api.post(
        "/api/HoldSession[]",
        [{"sessionId": held.id}, {"sessionId": ringing.id}, {"sessionId": untouched.id}],
        format="json",
    )

    assert response.status_code == 409
    assert response["X-AutoBatch-Completed"] == "1"
    status = error_status(response)
    assert status["errorCode"] == "InvalidState"
    assert json.loads(response.content)["responseStatus"]["meta"] == {"AutoBatchIndex": "1"}
    held.refresh_from_db()
    untouched.refresh_from_db()
    assert held.call_state == CallState.HOLD  # done before the failure: it stays done
    assert untouched.call_state == CallState.CONNECTED  # after it: never run


@pytest.mark.parametrize("body", [b'{"sessionId": "x"}', b"[1, 2]", b"[", b"", b'"text"'], ids=repr)
def test_a_batch_that_is_not_an_array_of_objects_is_400(api, session, body):
    state = db_state()

    response = api.generic("POST", "/api/HoldSession[]", body, "application/json")

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "SerializationException"
    assert db_state() == state


def test_an_invalid_item_is_400_before_anything_runs(api, session):
    state = db_state()

    response = api.post(
        "/api/PatchSession[]",
        [
            {"sessionId": session.id, "consoleData": "x"},
            {"sessionId": session.id, "callState": "Nope"},
        ],
        format="json",
    )

    assert response.status_code == 400
    assert db_state() == state


def test_an_unknown_operation_is_404(api):
    response = api.post("/api/NoSuchThing[]", [], format="json")

    assert response.status_code == 404


def test_a_batch_of_writes_by_get_is_refused(api, session):
    assert api.get("/api/HoldSession[]").status_code == 405


def test_a_batch_with_an_idempotency_key_runs_once(api, account):
    sessions = [CallSessionFactory(account=account) for _ in range(2)]
    batch = [{"sessionId": s.id, "consoleData": "once"} for s in sessions]

    first = api.post("/api/PatchSession[]", batch, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    retry = api.post("/api/PatchSession[]", batch, format="json", HTTP_IDEMPOTENCY_KEY="b-1")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert SessionEvent.objects.filter(kind="console_data_changed").count() == 2


def test_sign_in_cannot_be_batched(anon_api):
    response = anon_api.post("/api/Authenticate[]", [{"userName": "a"}], format="json")

    assert response.status_code == 400
