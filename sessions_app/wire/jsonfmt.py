"""JSON as ServiceStack writes it: camelCase keys, nulls omitted, booleans and enums always."""

import re

import orjson

from .contracts import LIST, OBJECT, Contract

_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


def to_json_value(contract: Contract, values: dict) -> dict:
    """A contract's values as a JSON-ready dict: camelCase keys, nulls left out."""
    out = {}
    for name, json_name, kind, item in contract.json_plan:
        value = values.get(name)
        if value is None:
            continue
        if item is not None:
            if kind == LIST:
                value = [to_json_value(item, element) for element in value]
            elif kind == OBJECT:
                value = to_json_value(item, value)
        out[json_name] = value
    return out


def render_json(contract: Contract, values: dict) -> bytes:
    """A contract's values as ServiceStack JSON."""
    return orjson.dumps(to_json_value(contract, values))


def valid_callback(name: str) -> bool:
    """A JSONP callback must be a plain (dotted) JavaScript identifier: nothing executable."""
    return len(name) <= 128 and bool(_CALLBACK.match(name))


def render_jsonp(callback: str, body: bytes) -> bytes:
    """A JSON body wrapped in a JSONP callback (already validated)."""
    return callback.encode() + b"(" + body + b")"
