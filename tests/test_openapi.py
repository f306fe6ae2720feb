"""The API's description: machine-readable at /openapi.json, readable at /docs/api."""

from sessions_app.api.views import OPERATIONS


def test_openapi_describes_every_documented_route(client, db):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    routes = {(path, verb) for path, verbs in spec["paths"].items() for verb in verbs}
    assert {
        ("/sessions/{sessionId}/hold", "post"),
        ("/sessions/{sessionId}", "patch"),
        ("/sessions/{sessionId}", "get"),
        ("/sessions/{sessionId}", "delete"),
        ("/sessions/{sessionId}/conference/members", "post"),
        ("/portal/active-sessions", "get"),
        ("/auth/credentials", "post"),
    } <= routes
    operation_ids = {op["operationId"] for verbs in spec["paths"].values() for op in verbs.values()}
    assert operation_ids == set(OPERATIONS)


def test_openapi_schemas_use_the_wire_names_and_enums(client, db):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    session = schemas["SessionInfo"]["properties"]
    assert session["callState"]["enum"] == [
        "Disconnected",
        "Ringing",
        "Connected",
        "Hold",
        "Passive",
    ]
    assert session["members"]["items"] == {"$ref": "#/components/schemas/SessionMemberInfo"}
    member = schemas["SessionMemberInfo"]["properties"]
    assert member["applicationData"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }


def test_api_reference_page_is_readable_html(client, db):
    response = client.get("/docs/api")
    body = response.content.decode()
    assert response.status_code == 200
    assert "POST /sessions/{sessionId}/hold" in body and "HoldSession" in body
    assert "SessionInfo" in body
