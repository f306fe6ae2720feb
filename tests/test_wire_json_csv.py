"""The JSON and CSV wire formats: JSON keys and order against the spec's sample (camelCase,
nulls left out, booleans and enums always), and ServiceStack's CSV (one header row, one row per
record, nested values in JSV)."""

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from sessions_app.models import CallSession, CallState, SessionEvent
from tests.conftest import spec_sample
from tests.factories import CallSessionFactory, SessionEventFactory, SessionMemberFactory

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def session_info_sample() -> dict:
    """The SessionInfo JSON of the PatchSession response sample."""
    return json.loads(spec_sample("session-info.json"))


def key_shape(value, key=None):
    """Keys (in order) and JSON types, all the way down; a dictionary's own keys are data."""
    if key == "applicationData":
        return {"map of": sorted({type(v).__name__ for v in value.values()})}
    if isinstance(value, dict):
        return [(k, key_shape(v, k)) for k, v in value.items()]
    if isinstance(value, list):
        return [key_shape(item) for item in value]
    return type(value).__name__


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- JSON -------------------------------------------------------------------------------------


def test_session_info_json_has_the_samples_keys_in_order_with_their_types(api, complete_session):
    response = api.get(f"/sessions/{complete_session.id}")

    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert key_shape(response.json()) == key_shape(session_info_sample())


def test_active_sessions_json_lists_session_infos_of_the_samples_shape(api, complete_session):
    body = api.get("/portal/active-sessions").json()

    assert list(body) == ["sessions"]
    assert [key_shape(s) for s in body["sessions"]] == [key_shape(session_info_sample())]


def test_json_leaves_out_nulls_but_keeps_booleans_enums_and_lists(api, session):
    body = api.get(f"/sessions/{session.id}").json()

    assert "consoleData" not in body and "customerId" not in body and "createdBy" not in body
    assert (body["ended"], body["wasMissed"]) == (False, False)
    assert (body["dialState"], body["holdReason"], body["channel"]) == ("None", "None", "Voice")
    assert body["customerBreadcrumb"] == []
    assert body["log"] == []
    assert [m["isOriginalMember"] for m in body["members"]] == [True]
    assert "avatarUrl" not in body["members"][0]


def test_json_dates_are_utc_with_milliseconds(api, complete_session):
    body = api.get(f"/sessions/{complete_session.id}").json()

    for value in (body["dateCreated"], body["dateLastModified"], body["dateCompleted"]):
        assert DATE.match(value), value
    assert DATE.match(body["log"][0]["date"])


def test_log_dates_are_cut_to_the_millisecond_in_utc_as_every_other_date(api, session):
    """The log's dates are formatted by the database, the session's in Python: the same rule
    (UTC, milliseconds cut, not rounded)."""
    at = datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2)))
    SessionEventFactory(session=session, date=at)
    CallSession.objects.filter(pk=session.pk).update(date_created=at)

    body = api.get(f"/sessions/{session.id}").json()

    assert body["log"][0]["date"] == body["dateCreated"] == "2026-03-01T21:59:59.999Z"


def test_json_keeps_application_data_keys_as_they_are(api, session):
    SessionMemberFactory(session=session, application_data={"CRM_Id": "7", "lower": "x"})

    body = api.get(f"/sessions/{session.id}").json()

    assert body["members"][-1]["applicationData"] == {"CRM_Id": "7", "lower": "x"}


def test_json_carries_unicode_as_utf8(api, account):
    session = CallSessionFactory(account=account, console_data='Zoë 📞 "quoted" \\ </script>')

    response = api.get(f"/sessions/{session.id}")

    assert response.json()["consoleData"] == 'Zoë 📞 "quoted" \\ </script>'
    assert "Zoë 📞".encode() in response.content


def test_the_spec_json_request_sample_is_accepted(api, session):
    sample = spec_sample("patch-session-request.json")
    body = json.loads(sample)
    body["sessionId"] = "ignored: the path wins"

    response = api.patch(f"/sessions/{session.id}", body, format="json")

    # The sample asks for console data "String" and CallState Disconnected: it ends the call.
    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.console_data, session.call_state, session.ended) == (
        "String",
        CallState.DISCONNECTED,
        True,
    )
    assert [e.message for e in SessionEvent.objects.filter(session=session)] == [
        "Session ended; console data updated by alice via API"
    ]


# --- CSV --------------------------------------------------------------------------------------


def test_session_info_csv_is_a_header_of_member_names_and_one_record(api, complete_session):
    response = api.get(f"/sessions/{complete_session.id}.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    reader = csv.reader(io.StringIO(response.content.decode()))
    header, *records = list(reader)
    # The JSON sample's keys, PascalCase: the contract's declaration order.
    assert header == [key[:1].upper() + key[1:] for key in session_info_sample()]
    assert len(records) == 1
    assert response.content.endswith(b"\r\n")


def test_csv_writes_scalars_as_text_and_nulls_as_empty_cells(api, session):
    [row] = csv_rows(api.get(f"/sessions/{session.id}.csv"))

    assert row["Id"] == session.id
    assert (row["CallState"], row["Ended"], row["WasMissed"]) == ("Connected", "false", "false")
    assert row["ConsoleData"] == row["CustomerId"] == row["CreatedBy"] == ""
    assert DATE.match(row["DateCreated"])


def test_csv_writes_nested_values_in_jsv(api, complete_session):
    [row] = csv_rows(api.get(f"/sessions/{complete_session.id}.csv"))

    assert (
        row["CustomerBreadcrumb"] == f'[{{Id:{complete_session.customer_id},Name:"Top Customer"}}]'
    )
    assert re.fullmatch(r"\[\{Date:[\d:.TZ-]+,Message:\"Incoming call\"\}\]", row["Log"])
    member = row["Members"]
    assert member.startswith("[{Identity:+1555")
    assert 'DisplayName:"Ada Lovelace"' in member
    assert "ApplicationData:{crm:42}" in member
    assert member.endswith(f"Role:Caller,CallSid:{complete_session.call_sid},Muted:true}}]")


@pytest.mark.parametrize("text", ['comma, "quote"', "line\r\nbreak", "=1+2"])
def test_csv_quotes_what_needs_quoting(api, account, text):
    session = CallSessionFactory(account=account, console_data=text)

    [row] = csv_rows(api.get(f"/sessions/{session.id}.csv"))

    assert row["ConsoleData"] == text


def test_active_sessions_csv_is_one_row_per_session_newest_first(api, account, session):
    newer = CallSessionFactory(account=account, call_state=CallState.HOLD)

    response = api.get("/portal/active-sessions", HTTP_ACCEPT="text/csv")

    rows = csv_rows(response)
    assert [(r["Id"], r["CallState"]) for r in rows] == [
        (newer.id, "Hold"),
        (session.id, "Connected"),
    ]
    assert list(rows[0]) == [key[:1].upper() + key[1:] for key in session_info_sample()]


def test_an_empty_active_sessions_csv_is_the_header_only(api, db):
    response = api.get("/portal/active-sessions.csv")

    lines = response.content.decode().split("\r\n")
    assert lines[0].startswith("DialState,CallState,QueueState,AccountId,")
    assert lines[1:] == [""]


def test_a_csv_request_body_is_read(api, session):
    response = api.patch(
        f"/sessions/{session.id}",
        'ConsoleData,QueueState\r\n"VIP, call back",Queued\r\n',
        content_type="text/csv",
        HTTP_ACCEPT="text/csv",
    )

    [row] = csv_rows(response)
    assert (row["ConsoleData"], row["QueueState"]) == ("VIP, call back", "Queued")
    session.refresh_from_db()
    assert (session.console_data, session.queue_state) == ("VIP, call back", "Queued")


def test_a_csv_request_body_with_a_byte_order_mark_is_read(api, session):
    response = api.patch(
        f"/sessions/{session.id}",
        "\ufeffConsoleData\r\nfrom a spreadsheet\r\n".encode(),
        content_type="text/csv",
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.console_data == "from a spreadsheet"
