"""The API's description: machine-readable at /openapi.json (the readable one is the metadata
pages, tests/test_api_metadata.py)."""

from sessions_app.api.operations import OPERATIONS


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
        ("/auth/{provider}", "post"),
    } <= routes
    operation_ids = {op["operationId"] for verbs in spec["paths"].values() for op in verbs.values()}
    # An operation on several routes (Authenticate: /auth, /auth/{provider}) numbers the rest.
    assert {op_id.split("_")[0] for op_id in operation_ids} == set(OPERATIONS)


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


def test_openapi_documents_idempotency_keys_on_writes_and_etags_on_reads(client, db):
    spec = client.get("/openapi.json").json()
    writes = {
        op["operationId"]: op
        for verbs in spec["paths"].values()
        for op in verbs.values()
        if OPERATIONS[op["operationId"].split("_")[0]].writes
    }
    sessions = {
        "HoldSession",
        "PatchSession",
        "EndSession",
        "AddConferenceMember",
        "UpdateConferenceMember",
        "RemoveConferenceMember",
        "RedirectSession",
        "MonitorSession",
    }
    assert set(writes) == sessions | {"CreateWebhook", "DeleteWebhook"}
    for name, operation in writes.items():
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        # If-Match where there is an ETag to match: a session's.
        conditional = {"If-Match"} if name in sessions else set()
        assert headers == {"Idempotency-Key", *conditional}, name
        assert "24 hours" in next(
            p["description"] for p in operation["parameters"] if p["name"] == "Idempotency-Key"
        )
        assert {"409", "422", *({"412"} if conditional else ())} <= set(operation["responses"])
        assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"]
    read = spec["paths"]["/sessions/{sessionId}"]["get"]
    assert {p["name"] for p in read["parameters"] if p["in"] == "header"} == {
        "If-None-Match",
        "If-Match",
    }
    assert "304" in read["responses"] and "ETag" in read["responses"]["200"]["headers"]


def test_openapi_documents_the_sign_in_lockout(client, db):
    spec = client.get("/openapi.json").json()
    operations = [op for verbs in spec["paths"].values() for op in verbs.values()]

    for operation in operations:
        assert "TooManyRequests" in operation["responses"]["429"]["description"]
