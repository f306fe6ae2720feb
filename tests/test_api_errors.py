"""Bad input of every kind: each answers 4xx in ServiceStack's error shape
({"responseStatus": {"errorCode", "message", "errors": [{"errorCode", "fieldName", "message"}]}})
and leaves the database exactly as it was."""

import pytest
from django.conf import settings

from tests.conftest import db_state, error_status

XML_HEAD = (
    '<PatchSession xmlns:i="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns="http://schemas.datacontract.org/2004/07/Voice.Api.Sessions">'
)

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<PatchSession><ConsoleData>&lol9;</ConsoleData></PatchSession>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE PatchSession [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<PatchSession><ConsoleData>&xxe;</ConsoleData></PatchSession>"""

EXTERNAL_DTD = """<?xml version="1.0"?>
<!DOCTYPE PatchSession SYSTEM "http://127.0.0.1:9/evil.dtd">
<PatchSession><ConsoleData>x</ConsoleData></PatchSession>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE PatchSession [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<PatchSession><ConsoleData>x</ConsoleData></PatchSession>"""


@pytest.fixture
def patch(api, session):
    """PATCH the session with a raw body; checks the database did not change."""
    before = db_state()

    def send(body, content_type="application/json", **extra):
        return api.generic("PATCH", f"/sessions/{session.id}", body, content_type, **extra)

    yield send
    assert db_state() == before


# --- bodies that cannot be read ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"consoleData": ',
        "{'consoleData': 'x'}",
        '{"consoleData": "x",}',
        "consoleData=x",
        b'{"consoleData": "\xff"}',
    ],
)
def test_malformed_json_is_400(patch, body):
    response = patch(body)

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "SerializationException"
    assert status["message"].startswith("Malformed JSON")


@pytest.mark.parametrize("body", ['[{"consoleData": "x"}]', '"x"', "5", "null", "true"])
def test_json_that_is_not_an_object_is_400(patch, body):
    response = patch(body)

    assert response.status_code == 400
    status = error_status(response)
    assert (status["errorCode"], status["message"]) == (
        "SerializationException",
        "The JSON body must be an object",
    )


@pytest.mark.parametrize(
    "body",
    [
        XML_HEAD + "<ConsoleData>x</PatchSession>",
        "<PatchSession><ConsoleData>x</ConsoleData>",
        "not xml at all",
        XML_HEAD + "<ConsoleData>&undefined;</ConsoleData></PatchSession>",
        b"<PatchSession><ConsoleData>\xff</ConsoleData></PatchSession>",
    ],
)
def test_malformed_xml_is_400(patch, body):
    response = patch(body, "application/xml")

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "SerializationException"
    assert status["message"].startswith("Malformed XML")


def test_xml_with_a_nested_element_is_400(patch):
    response = patch(XML_HEAD + "<ConsoleData><b>x</b></ConsoleData></PatchSession>", "text/xml")

    assert response.status_code == 400
    assert error_status(response)["message"] == "Element 'ConsoleData' must be a simple value"


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion laughs", "external entity", "external DTD", "parameter entity"],
)
def test_xml_with_a_dtd_or_entities_is_400(patch, body):
    response = patch(body, "application/xml")

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "SerializationException"
    assert status["message"] == "XML with DTDs or entity declarations is not accepted"
    assert b"root:" not in response.content


@pytest.mark.parametrize(
    "body",
    ["consoleData\r\nx\r\ny\r\n", "consoleData,queueState\r\nx\r\n", b"consoleData\r\n\xff\r\n"],
)
def test_malformed_csv_is_400(patch, body):
    response = patch(body, "text/csv")

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "SerializationException"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "", "application/pdf", "multipart/form-data; boundary=x"]
)
def test_an_unsupported_content_type_is_415(patch, content_type):
    response = patch("consoleData=x", content_type)

    assert response.status_code == 415
    assert error_status(response)["errorCode"] == "UnsupportedMediaType"


@pytest.mark.parametrize(
    ("content_type", "template"),
    [
        ("application/json", '{{"consoleData": "{}"}}'),
        ("application/xml", XML_HEAD + "<ConsoleData>{}</ConsoleData></PatchSession>"),
        ("text/csv", "consoleData\r\n{}\r\n"),
        ("application/x-www-form-urlencoded", "consoleData={}"),
    ],
)
def test_a_body_over_the_limit_is_413(patch, content_type, template):
    body = template.format("x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    response = patch(body, content_type)

    assert response.status_code == 413
    assert error_status(response)["errorCode"] == "RequestTooLarge"


def test_a_body_at_the_limit_is_read(patch):
    body = '{"consoleData": "%s"}'
    body %= "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE - len(body) + 2)
    assert len(body) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = patch(body)

    # Read, then refused for what it says: a string longer than a field may be.
    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "MaximumLength"


# --- fields with bad values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "type_name"),
    [
        ("CallState", "SessionCallState"),
        ("QueueState", "SessionQueueStates"),
        ("HoldReason", "SessionHoldReasons"),
    ],
)
def test_an_unknown_enum_value_is_400_naming_the_field(patch, field, type_name):
    response = patch(f'{{"{field}": "Exploded"}}')

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "InvalidEnum"
    [error] = status["errors"]
    assert (error["errorCode"], error["fieldName"]) == ("InvalidEnum", field)
    assert error["message"].startswith(f"'Exploded' is not a valid {type_name}. Valid values: ")


def test_an_unknown_hold_reason_is_400(api, session):
    before = db_state()

    response = api.post(f"/sessions/{session.id}/hold", {"reason": "Lunch"}, format="json")

    assert response.status_code == 400
    assert error_status(response)["errors"][0]["fieldName"] == "Reason"
    assert db_state() == before


@pytest.mark.parametrize("value", ["5", "1.5", '{"a": 1}', '["x"]', "true"])
def test_a_non_string_where_a_string_is_expected_is_400(patch, value):
    response = patch(f'{{"consoleData": {value}}}')

    assert response.status_code == 400
    status = error_status(response)
    assert status["errors"] == [
        {
            "errorCode": "InvalidType",
            "fieldName": "ConsoleData",
            "message": "'ConsoleData' must be a string.",
        }
    ]


@pytest.mark.parametrize("value", ["2", '{"name": "Hold"}', "true"])
def test_a_non_string_enum_is_400(patch, value):
    response = patch(f'{{"callState": {value}}}')

    assert response.status_code == 400
    assert error_status(response)["errors"][0]["fieldName"] == "CallState"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/sessions/{id}/hold", {"callSid": 42}, "CallSid"),
        ("/sessions/{id}/conference/members", {"destination": {"n": "+1"}}, "Destination"),
        ("/sessions/{id}/conference/members", {"destination": "+1", "fromNumber": 1}, "FromNumber"),
    ],
)
def test_wrong_types_are_400_on_every_operation(api, session, url, body, field):
    before = db_state()

    response = api.post(url.format(id=session.id), body, format="json")

    assert response.status_code == 400
    assert [e["fieldName"] for e in error_status(response)["errors"]] == [field]
    assert db_state() == before


def test_a_non_boolean_remember_me_is_400(anon_api, user):
    response = anon_api.post(
        "/auth/credentials",
        {"userName": "alice", "password": "test-password", "rememberMe": "maybe"},
        format="json",
    )

    assert response.status_code == 400
    assert error_status(response)["errors"][0]["fieldName"] == "RememberMe"


def test_every_bad_field_is_reported_at_once(patch):
    response = patch('{"queueState": "Lost", "consoleData": 5, "callState": "Exploded"}')

    assert response.status_code == 400
    status = error_status(response)
    assert [(e["fieldName"], e["errorCode"]) for e in status["errors"]] == [
        ("ConsoleData", "InvalidType"),
        ("CallState", "InvalidEnum"),
        ("QueueState", "InvalidEnum"),
    ]
    assert (status["errorCode"], status["message"]) == (
        "InvalidType",
        status["errors"][0]["message"],
    )


def test_a_string_over_the_field_limit_is_400(patch):
    response = patch('{"consoleData": "%s"}' % ("x" * 4001))  # noqa: UP031

    assert response.status_code == 400
    [error] = error_status(response)["errors"]
    assert (error["errorCode"], error["fieldName"]) == ("MaximumLength", "ConsoleData")


def test_a_nul_character_is_400(patch):
    response = patch('{"consoleData": "a\\u0000b"}')

    assert response.status_code == 400
    assert error_status(response)["errors"][0]["errorCode"] == "InvalidCharacters"


@pytest.mark.parametrize("route", ["/api/HoldSession", "/json/reply/PatchSession"])
def test_a_predefined_route_without_a_session_id_is_400(api, session, route):
    before = db_state()

    response = api.post(route, {"consoleData": "x"}, format="json")

    assert response.status_code == 400
    [error] = error_status(response)["errors"]
    assert (error["errorCode"], error["fieldName"]) == ("NotEmpty", "SessionId")
    assert db_state() == before


# --- what does not exist ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("patch", "", {"consoleData": "x"}),
        ("delete", "", None),
        ("post", "/hold", None),
        ("post", "/conference/members", {"destination": "+15557654321"}),
    ],
)
def test_an_unknown_session_is_404(api, session, method, path, body):
    before = db_state()

    response = getattr(api, method)(f"/sessions/no-such-session{path}", body, format="json")

    assert response.status_code == 404
    status = error_status(response)
    assert (status["errorCode"], status["message"]) == (
        "NotFound",
        "Session 'no-such-session' does not exist",
    )
    assert db_state() == before


def test_an_unknown_operation_is_404(api):
    response = api.post("/api/DropAllSessions", {}, format="json")

    assert response.status_code == 404
    assert error_status(response)["message"] == "Unknown operation 'DropAllSessions'"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("put", "/sessions/{id}", "GET, PATCH, DELETE, HEAD, OPTIONS"),
        ("post", "/sessions/{id}", "GET, PATCH, DELETE, HEAD, OPTIONS"),
        ("get", "/sessions/{id}/hold", "POST, OPTIONS"),
        ("delete", "/sessions/{id}/hold", "POST, OPTIONS"),
        ("get", "/sessions/{id}/conference/members", "POST, OPTIONS"),
        ("post", "/portal/active-sessions", "GET, HEAD, OPTIONS"),
        ("delete", "/portal/active-sessions", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_wrong_verb_is_405_with_the_allowed_ones(api, session, method, path, allow):
    before = db_state()

    response = getattr(api, method)(path.format(id=session.id), {"consoleData": "x"}, format="json")

    assert response.status_code == 405
    assert response["Allow"] == allow
    assert error_status(response)["errorCode"] == "MethodNotAllowed"
    assert db_state() == before


# --- JSONP callbacks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "callback",
    ["alert(1)", "a;b", "</script><script>x", "1abc", "a.", "a..b", "x" * 129, "a-b"],
)
def test_a_bad_jsonp_callback_is_400_and_not_executed(patch, callback):
    response = patch('{"consoleData": "x"}', QUERY_STRING=f"callback={callback}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert not response.content.startswith(callback.encode())
    [error] = error_status(response)["errors"]
    assert (error["errorCode"], error["fieldName"]) == ("InvalidCallback", "callback")


# --- the other error forms --------------------------------------------------------------------


def test_an_error_in_xml_has_the_servicestack_shape(api, session):
    before = db_state()

    response = api.patch(f"/sessions/{session.id}.xml", {"callState": "Exploded"}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/xml")
    assert b'<StackTrace i:nil="true" />' in response.content
    assert b'<Meta i:nil="true" />' in response.content
    status = error_status(response)  # checks the element names and their order
    assert status["errorCode"] == "InvalidEnum"
    assert [(e["errorCode"], e["fieldName"]) for e in status["errors"]] == [
        ("InvalidEnum", "CallState")
    ]
    assert db_state() == before


def test_an_error_in_csv_is_one_response_status_record(api):
    response = api.get("/sessions/nope.csv")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/csv")
    header, record = response.content.decode().split("\r\n")[:2]
    assert header == "ResponseStatus"
    assert record.startswith('"{ErrorCode:NotFound,Message:""Session \'nope\' does not exist""')


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/abc/nothing",
        "/api/",
        "/json/reply/",
        "/portal/active-sessions/extra",
        "/sessions/abc%0A",  # a newline in the path
        "/sessions/abc%0A/hold",
    ],
)
def test_unknown_api_paths_answer_a_servicestack_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["responseStatus"]["errorCode"] == "NotFound"
    assert api.get(path + "?format=xml").content.startswith(b'<?xml version="1.0"')
