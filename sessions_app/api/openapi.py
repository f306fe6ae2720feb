"""The OpenAPI 3 description, built from the operations registry and the same contracts the
wire format renders, so the description cannot drift from what is served."""

from sessions_app.wire import contracts
from sessions_app.wire.contracts import (
    BOOL,
    DATE,
    ENUM,
    INT,
    LIST,
    OBJECT,
    STRING_MAP,
    Contract,
)

from .operations import OPERATIONS, Operation, Route


def _schema(field) -> dict:
    if field.kind == BOOL:
        return {"type": "boolean"}
    if field.kind == INT:
        return {"type": "integer", "format": "int32"}
    if field.kind == DATE:
        return {"type": "string", "format": "date-time"}
    if field.kind == INT:
        return {"type": "integer", "format": "int32"}
    if field.kind == DATE:
        return {"type": "string", "format": "date-time"}
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
        "properties": {
            f.json_name: _field_schema(f) for f in contract.all_fields if f.name not in skip
        },
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
        "404": "No such session or webhook (or not yours)",
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


def _parameter(field, location: str) -> dict:
    parameter = {
        "name": field.json_name,
        "in": location,
        "required": location == "path",
        "schema": _schema(field),
    }
    if field.kind == LIST and location == "query":  # `?accountIds=a,b` (or the key repeated)
        parameter.update(style="form", explode=False)
    if field.description:
        parameter["description"] = field.description
    return parameter


def _operation(operation: Operation, route: Route, verb: str, operation_id: str) -> dict:
    """One (route, verb) of a registry operation: its parameters where the registry says they
    travel, its body, its answer and the errors it can give. The conditional and idempotency
    headers follow from the operation's `etag` and `writes`."""
    ok = {"description": "OK", "content": _json(_ref(operation.response.name)), "headers": {}}
    # 429: too many failed sign-ins for this user name from this address (Basic or sign-in).
    codes = {"400", "401", "429"} if operation.public else {"400", "401", "403", "429"}
    codes |= {"404"} if route.parameters else set()
    codes |= {"409", "422"} if operation.writes else set()
    codes |= {"412"} if operation.etag else set()
    codes |= {"502"} if operation.provider else set()
    responses = {"200": ok, **{code: ERRORS[code] for code in sorted(codes)}}
    headers: list[dict] = []
    if operation.writes:
        headers.append(IDEMPOTENCY_KEY)
        ok["headers"]["Idempotent-Replayed"] = {
            "description": "`true` on the stored answer to an earlier request with this key",
            "schema": {"type": "string"},
        }
    if operation.etag:
        ok["headers"].update(ETAG)
        if not operation.writes:
            headers.append(IF_NONE_MATCH)
            responses["304"] = {"description": "Not modified since that ETag", "headers": ETAG}
        headers.append(IF_MATCH)
    fields = [(f, operation.location(f, route, verb)) for f in operation.request.all_fields]
    body = [f for f, location in fields if location == "body"]
    description = {
        "operationId": operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "parameters": [_parameter(f, where) for f, where in fields if where != "body"] + headers,
        "responses": responses,
    }
    if not operation.public:
        description["security"] = [{"basic": []}, {"cookie": []}]
        description["description"] = f"Required role: {operation.role}"
    if body:
        schema = {"type": "object", "properties": {f.json_name: _field_schema(f) for f in body}}
        description["requestBody"] = {"content": _json(schema)}
    return description


def _field_schema(field) -> dict:
    schema = _schema(field)
    if field.description and "$ref" not in schema:
        schema["description"] = field.description
    return schema


def _schemas() -> dict:
    """Every DTO an operation answers with, and the DTOs and errors they contain."""
    schemas: dict[str, dict] = {}

    def add(contract: Contract) -> None:
        if contract.name in schemas:
            return
        schemas[contract.name] = _component(contract)
        for f in contract.all_fields:
            if f.item is not None:
                add(f.item)

    for operation in OPERATIONS.values():
        add(operation.response)
    add(contracts.ERROR_RESPONSE)
    return schemas


def build_openapi() -> dict:
    """The OpenAPI 3 description of every operation in the registry."""
    paths: dict[str, dict] = {}
    seen: dict[str, int] = {}
    for operation in OPERATIONS.values():
        for route in operation.routes:
            for verb in route.verbs:
                seen[operation.name] = seen.get(operation.name, 0) + 1
                count = seen[operation.name]
                operation_id = operation.name if count == 1 else f"{operation.name}_{count}"
                paths.setdefault(route.path, {})[verb.lower()] = _operation(
                    operation, route, verb, operation_id
                )
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Evo Voice sessions API",
            "version": "1.0.0",
            "description": "Live call sessions. Every route also answers `.json`, `.xml`, `.csv` "
            "suffixes or `?format=`, and `/api/{Operation}` / `/json/reply/{Operation}`.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ss-id"},
            },
        },
    }
