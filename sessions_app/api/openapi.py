"""The OpenAPI 3 description, built from the same contracts the wire format renders, so the
description cannot drift from what is served."""

from sessions_app.webhooks import contracts as webhook_contracts
from sessions_app.wire import contracts
from sessions_app.wire.contracts import BOOL, ENUM, LIST, OBJECT, STRING_MAP, Contract


def _schema(field) -> dict:
    if field.kind == BOOL:
        return {"type": "boolean"}
    if field.kind == ENUM:
        return {"type": "string", "enum": field.enum.values()}
    if field.kind == LIST:
        items = (
            {"$ref": f"#/components/schemas/{field.item.name}"}
            if field.item
            else {"type": "string"}
        )
        return {"type": "array", "items": items}
    if field.kind == STRING_MAP:
        return {"type": "object", "additionalProperties": {"type": "string"}}
    if field.kind == OBJECT:
        return {"$ref": f"#/components/schemas/{field.item.name}"}
    return {"type": "string"}


def _component(contract: Contract, skip=()) -> dict:
    return {
        "type": "object",
        "properties": {f.json_name: _schema(f) for f in contract.all_fields if f.name not in skip},
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}, "application/xml": {"schema": schema}}


ERRORS = {
    code: {"description": text, "content": _json(_ref("ErrorResponse"))}
    for code, text in {
        "400": "Invalid input; field errors name the field",
        "401": "Not authenticated",
        "403": "Invalid Role",
        "404": "No such session (or not yours)",
        "409": "The session's state does not allow this (the message names the state, who put "
        "the session there and since when), another action on it is still in progress "
        "(errorCode ActionInProgress), or the first request with this Idempotency-Key is still "
        "running (IdempotencyKeyInUse)",
        "412": "If-Match: the session has changed since that ETag; nothing was done (the answer's "
        "ETag is the current one)",
        "422": "This Idempotency-Key was already used for a different request",
        "429": "Too many failed sign-ins for this username from this address (errorCode "
        "TooManyRequests): refused, the right password too, for the seconds in Retry-After",
        "502": "The telephony provider failed; only what it did before failing is recorded",
    }.items()
}
SESSION_ID = {"name": "sessionId", "in": "path", "required": True, "schema": {"type": "string"}}


def _header(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }


ETAG = {"ETag": {"description": "The session's version", "schema": {"type": "string"}}}
IDEMPOTENCY_KEY = _header(
    "Idempotency-Key",
    "Makes the write safe to retry: a retry with the same key and request answers what the first "
    "answered (with `Idempotent-Replayed: true`) and does nothing twice. Keys are per user and "
    "are remembered for 24 hours (IDEMPOTENCY_KEY_TTL_HOURS). A refused write (4xx) is not "
    "remembered: nothing was done, and a retry runs again.",
)
IF_MATCH = _header("If-Match", "Write only if the session's ETag is still one of these")
IF_NONE_MATCH = _header("If-None-Match", "304 Not Modified if the session's ETag is one of these")
WRITE = (IDEMPOTENCY_KEY, IF_MATCH)


def _operation(
    op_id: str,
    summary: str,
    *,
    body: Contract | None = None,
    query: Contract | None = None,
    response: str = "SessionInfo",
    path_param: bool = True,
    headers: tuple[dict, ...] = (),
) -> dict:
    """One operation. `headers`: the conditional and idempotency headers it understands (a
    SessionInfo answer then carries an ETag; a write, whether it was a replay)."""
    ok = {"description": "OK", "content": _json(_ref(response))}
    responses = {"200": ok, **ERRORS}
    if IF_NONE_MATCH in headers:
        responses["304"] = {"description": "Not modified since that ETag", "headers": ETAG}
    ok["headers"] = dict(ETAG) if IF_MATCH in headers else {}
    if IDEMPOTENCY_KEY in headers:
        ok["headers"]["Idempotent-Replayed"] = {
            "description": "`true` on the stored answer to an earlier request with this key",
            "schema": {"type": "string"},
        }
    operation = {
        "operationId": op_id,
        "summary": summary,
        "parameters": ([SESSION_ID] if path_param else []) + list(headers),
        "responses": responses,
        "security": [{"basic": []}, {"cookie": []}],
    }
    if query is not None:
        for f in query.all_fields:
            if f.name != "SessionId":
                operation["parameters"].append(
                    {
                        "name": f.json_name,
                        "in": "query",
                        "required": False,
                        "schema": _schema(f),
                    }
                )
    if body is not None:
        operation["requestBody"] = {"content": _json(_component(body, skip={"SessionId"}))}
    return operation


def build_openapi() -> dict:
    """The OpenAPI 3 description of the operations, from the wire contracts."""
    schemas = {
        c.name: _component(c)
        for c in (
            contracts.SESSION_INFO,
            contracts.SESSION_MEMBER_INFO,
            contracts.SESSION_LOG_INFO,
            contracts.CUSTOMER_BREADCRUMB,
            contracts.APP_GET_ACTIVE_SESSIONS_RESULT,
            contracts.ERROR_RESPONSE,
            contracts.RESPONSE_STATUS,
            contracts.RESPONSE_ERROR,
            contracts.AUTHENTICATE_RESPONSE,
            webhook_contracts.WEBHOOK_INFO,
            webhook_contracts.LIST_WEBHOOKS_RESPONSE,
        )
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Evo Voice sessions API",
            "version": "1.0.0",
            "description": "Live call sessions. Every route also answers `.json`, `.xml`, `.csv` "
            "suffixes or `?format=`, and `/api/{Operation}` / `/json/reply/{Operation}`.",
        },
        "paths": {
            "/sessions/{sessionId}/hold": {
                "post": _operation(
                    "HoldSession", "Hold a call", body=contracts.HOLD_SESSION, headers=WRITE
                )
            },
            "/sessions/{sessionId}": {
                "get": _operation("GetSession", "Get a session", headers=(IF_NONE_MATCH, IF_MATCH)),
                "patch": _operation(
                    "PatchSession", "Change a session", query=contracts.PATCH_SESSION, headers=WRITE
                ),
                "delete": _operation(
                    "EndSession", "End a session", query=contracts.END_SESSION, headers=WRITE
                ),
            },
            "/sessions/{sessionId}/conference/members": {
                "post": _operation(
                    "AddConferenceMember",
                    "Invite a member to the conference",
                    body=contracts.ADD_CONFERENCE_MEMBER,
                    headers=WRITE,
                )
            },
            "/portal/active-sessions": {
                "get": _operation(
                    "AppGetActiveSessions",
                    "Active sessions",
                    query=contracts.APP_GET_ACTIVE_SESSIONS,
                    response="AppGetActiveSessionsResult",
                    path_param=False,
                )
            },
            **_webhook_paths(),
            "/auth/credentials": {
                "post": {
                    "operationId": "Authenticate",
                    "summary": "Sign in; starts an ss-id cookie session",
                    "requestBody": {"content": _json(_component(contracts.AUTHENTICATE))},
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": _json(_ref("AuthenticateResponse")),
                        },
                        "401": ERRORS["401"],
                        "429": ERRORS["429"],
                    },
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ss-id"},
            },
        },
    }


# Webhooks

WEBHOOK_ID = {"name": "webhookId", "in": "path", "required": True, "schema": {"type": "string"}}


def _webhook_paths() -> dict:
    """`/webhooks` and `/webhooks/{webhookId}`: Manager of the account or administrator."""
    create = _operation(
        "CreateWebhook",
        "Subscribe a URL to an account's session events; the only answer with the secret",
        body=webhook_contracts.CREATE_WEBHOOK,
        response="WebhookInfo",
        path_param=False,
        headers=(IDEMPOTENCY_KEY,),
    )
    listing = _operation(
        "ListWebhooks",
        "The webhook subscriptions of the accounts you manage",
        query=webhook_contracts.LIST_WEBHOOKS,
        response="ListWebhooksResponse",
        path_param=False,
    )
    delete = _operation(
        "DeleteWebhook",
        "Delete a webhook subscription",
        response="WebhookInfo",
        path_param=False,
        headers=(IDEMPOTENCY_KEY,),
    )
    delete["parameters"].insert(0, WEBHOOK_ID)
    for operation in (create, listing, delete):
        for code in ("412", "502"):  # no ETags, no provider
            operation["responses"].pop(code)
    for code in ("409", "422"):  # a read has no Idempotency-Key
        listing["responses"].pop(code)
    return {
        "/webhooks": {"get": listing, "post": create},
        "/webhooks/{webhookId}": {"delete": delete},
    }
