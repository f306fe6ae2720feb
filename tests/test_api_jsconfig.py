"""`?jsconfig=`: a client customises the JSON of one response, as ServiceStack lets it (names'
case, default and null values, dates, indentation), on a session and on the active-sessions
list; JSONP follows it, XML and CSV ignore it, and without it the JSON is what it always was."""

import json
from datetime import UTC, datetime

import pytest

from sessions_app.wire.jsonfmt import DEFAULT_JSON_CONFIG, JsonConfig, parse_jsconfig
from tests.factories import CallSessionFactory, SessionEventFactory

CREATED = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
CREATED_MS = 1772366400123


@pytest.fixture
def dated_session(account):
    """A session created at CREATED, with one log line at the same moment."""
    session = CallSessionFactory(account=account, date_created=CREATED, date_last_modified=CREATED)
    SessionEventFactory(session=session, date=CREATED, message="Incoming call")
    return session


def get(api, session, jsconfig=None, **params):
    if jsconfig is not None:
        params["jsconfig"] = jsconfig
    response = api.get(f"/sessions/{session.id}", params)
    assert response.status_code == 200
    return response


# --- names ------------------------------------------------------------------------------------


def test_without_jsconfig_the_json_is_unchanged(api, dated_session):
    plain = get(api, dated_session).content

    for jsconfig in ("", "eccn", "EmitCamelCaseNames:true", "dh:iso8601", "unknown:1", "edv:false"):
        assert get(api, dated_session, jsconfig).content == plain, jsconfig


@pytest.mark.parametrize(
    "jsconfig",
    ["EmitLowercaseUnderscoreNames", "elun", "ELUN:true", "elun:1", "TextCase:SnakeCase"],
)
def test_snake_case_names(api, dated_session, jsconfig):
    body = get(api, dated_session, jsconfig).json()

    assert body["call_sid"] == dated_session.call_sid
    assert body["date_last_modified"] == "2026-03-01T12:00:00.123Z"
    assert body["members"][0]["is_original_member"] is True
    assert body["log"][0] == {"date": "2026-03-01T12:00:00.123Z", "message": "Incoming call"}
    assert "callSid" not in body


@pytest.mark.parametrize("jsconfig", ["EmitCamelCaseNames:false", "eccn:false", "tc:pc"])
def test_pascal_case_names(api, dated_session, jsconfig):
    body = get(api, dated_session, jsconfig).json()

    assert body["CallSid"] == dated_session.call_sid
    assert body["Members"][0]["IsOriginalMember"] is True
    assert body["CustomerBreadcrumb"] == []


def test_elun_false_changes_nothing(api, dated_session):
    assert get(api, dated_session, "elun:false").content == get(api, dated_session).content


def test_names_keep_the_declared_order(api, dated_session):
    camel = list(get(api, dated_session).json())
    snake = list(get(api, dated_session, "elun").json())

    assert [name.replace("_", "") for name in snake] == [name.lower() for name in camel]


def test_application_data_keys_are_data_not_names(api, dated_session):
    dated_session.members.update(application_data={"CrmId": "42"})

    body = get(api, dated_session, "elun").json()

    assert body["members"][0]["application_data"] == {"CrmId": "42"}


# --- default and null values ------------------------------------------------------------------


@pytest.mark.parametrize("jsconfig", ["ExcludeDefaultValues", "edv", "excludedefaultvalues:true"])
def test_exclude_default_values_leaves_out_false(api, dated_session, jsconfig):
    body = get(api, dated_session, jsconfig).json()

    assert "ended" not in body and "wasMissed" not in body
    assert "muted" not in body["members"][0]
    assert body["members"][0]["isOriginalMember"] is True
    # enums are kept (IncludeDefaultEnums), and so are empty lists (a list's default is null)
    assert (body["dialState"], body["holdReason"]) == ("None", "None")
    assert body["customerBreadcrumb"] == []


def test_exclude_default_values_without_default_enums(api, dated_session):
    body = get(api, dated_session, "edv,ide:false").json()

    # an enum at its first member is its default
    assert "dialState" not in body and "holdReason" not in body
    assert body["callState"] == "Connected"


def test_exclude_default_values_leaves_out_zero_counts(api, account):
    body = api.get("/sessions", {"jsconfig": "edv", "Page": 3}).json()

    assert body == {"items": []}


@pytest.mark.parametrize("jsconfig", ["IncludeNullValues", "inv", "inv:true"])
def test_include_null_values(api, dated_session, jsconfig):
    body = get(api, dated_session, jsconfig).json()

    assert body["consoleData"] is None and body["customerId"] is None
    assert body["members"][0]["avatarUrl"] is None
    assert set(get(api, dated_session).json()) < set(body)


def test_include_null_values_false_is_the_default(api, dated_session):
    assert get(api, dated_session, "inv:false").content == get(api, dated_session).content


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jsconfig", "expected"),
    [
        ("DateHandler:ISO8601", "2026-03-01T12:00:00.123Z"),
        ("dh:iso8601", "2026-03-01T12:00:00.123Z"),
        ("dh:UnixTime", CREATED_MS // 1000),
        ("dh:ut", CREATED_MS // 1000),
        ("DateHandler:UnixTimeMs", CREATED_MS),
        ("dh:utm", CREATED_MS),
        ("dh:ISO8601DateOnly", "2026-03-01"),
        ("dh:iso8601do", "2026-03-01"),
        ("dh:ISO8601DateTime", "2026-03-01 12:00:00"),
        ("dh:RFC1123", "Sun, 01 Mar 2026 12:00:00 GMT"),
        ("dh:DCJSCompatible", f"/Date({CREATED_MS})/"),
        ("dh:dcjsc", f"/Date({CREATED_MS})/"),
        ("dh:TimestampOffset", f"/Date({CREATED_MS})/"),
        ("dh:Soon", "2026-03-01T12:00:00.123Z"),  # a value it does not know: ignored
    ],
)
def test_date_handlers(api, dated_session, jsconfig, expected):
    body = get(api, dated_session, jsconfig).json()

    assert body["dateCreated"] == expected
    assert body["dateLastModified"] == expected
    assert body["log"][0]["date"] == expected
    # only dates: the other strings are as they were
    assert body["callSid"] == dated_session.call_sid


def test_dcjs_dates_escape_their_slashes_as_datacontract_json_does(api, dated_session):
    text = get(api, dated_session, "dh:dcjsc").content.decode()

    assert f'"dateCreated":"\\/Date({CREATED_MS})\\/"' in text


def test_dcjs_escaping_changes_no_other_value(api, dated_session):
    dated_session.console_data = '"/Date(5)/" is not a date )/"'
    dated_session.save()

    body = get(api, dated_session, "dh:dcjsc").json()

    assert body["consoleData"] == '"/Date(5)/" is not a date )/"'


def test_date_completed_of_an_ended_session(api, account):
    session = CallSessionFactory(account=account, call_state="Disconnected")
    session.date_completed = CREATED
    session.save()

    assert get(api, session, "dh:utm").json()["dateCompleted"] == CREATED_MS


# --- combinations, the list, other formats ----------------------------------------------------


def test_options_combine(api, dated_session):
    body = get(api, dated_session, "elun,edv,inv,dh:ut").json()

    assert body["date_created"] == CREATED_MS // 1000
    assert body["console_data"] is None
    assert "ended" not in body
    assert body["members"][0]["is_original_member"] is True


def test_names_and_values_are_read_in_any_case_and_spacing(api, dated_session):
    body = get(api, dated_session, " ELUN , DateHandler : UNIXTIMEMS ").json()

    assert body["date_created"] == CREATED_MS


def test_indent(api, dated_session):
    text = get(api, dated_session, "indent").content.decode()

    assert text.startswith('{\n  "dialState"')
    assert json.loads(text) == get(api, dated_session).json()


def test_on_the_active_sessions_list(api, dated_session):
    body = api.get("/portal/active-sessions", {"jsconfig": "elun,dh:utm"}).json()

    [item] = body["sessions"]
    assert item["date_created"] == CREATED_MS
    assert item["account_name"] == "Acme"


def test_on_the_active_sessions_list_through_a_predefined_route(api, dated_session):
    response = api.get("/json/reply/AppGetActiveSessions?jsconfig=eccn:false")

    assert list(response.json()) == ["Sessions"]


def test_on_an_error(api):
    response = api.get("/sessions/nope", {"jsconfig": "elun"})

    assert response.status_code == 404
    assert response.json()["response_status"]["error_code"] == "NotFound"


def test_jsonp_follows_jsconfig(api, dated_session):
    response = get(api, dated_session, "elun", callback="show")

    assert response["Content-Type"].startswith("application/javascript")
    text = response.content.decode()
    assert text.startswith("show({") and text.endswith("})")
    assert json.loads(text[len("show(") : -1])["call_sid"] == dated_session.call_sid


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_xml_and_csv_ignore_it(api, dated_session, fmt):
    plain = api.get(f"/sessions/{dated_session.id}.{fmt}").content

    assert api.get(f"/sessions/{dated_session.id}.{fmt}", {"jsconfig": "elun,dh:ut"}).content == (
        plain
    )


def test_a_jsconfig_header_is_ignored_as_servicestack_ignores_it(api, dated_session):
    response = api.get(f"/sessions/{dated_session.id}", HTTP_JSCONFIG="elun")

    assert response.content == get(api, dated_session).content


# --- the parser -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, DEFAULT_JSON_CONFIG),
        ("", DEFAULT_JSON_CONFIG),
        ("nonsense,,:,x:y", DEFAULT_JSON_CONFIG),
        ("elun,eccn", JsonConfig()),  # the last word on the case wins
        ("eccn,elun", JsonConfig(text_case="snake")),
        ("edv:0", DEFAULT_JSON_CONFIG),
        ("edv:no", JsonConfig(exclude_default_values=True)),  # anything but false and 0
        ("tc:nope", DEFAULT_JSON_CONFIG),
        ("pp", JsonConfig(indent=True)),
    ],
)
def test_parse_jsconfig(text, expected):
    assert parse_jsconfig(text) == expected
