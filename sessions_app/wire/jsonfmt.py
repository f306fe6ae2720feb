"""JSON as ServiceStack writes it: camelCase keys, nulls omitted, booleans and enums always."""

import re

import orjson

from .contracts import LIST, OBJECT, Contract

_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")

# A contract's values already rendered by `render_json` (bytes or str), written as they are: a
# stored SessionInfo document (`sessions_app.documents`) in a list, or as a whole answer.
Encoded = orjson.Fragment


def to_json_value(contract: Contract, values: dict) -> dict:
    """A contract's values as a JSON-ready dict: camelCase keys, nulls left out; elements of a
    list already `Encoded` stay as they are."""
    out = {}
    for name, json_name, kind, item in contract.json_plan:
        value = values.get(name)
        if value is None:
            continue
        if item is not None:
            if kind == LIST:
                value = [
                    element if isinstance(element, Encoded) else to_json_value(item, element)
                    for element in value
                ]
            elif kind == OBJECT:
                value = to_json_value(item, value)
        out[json_name] = value
    return out


def render_json(contract: Contract, values: dict | Encoded) -> bytes:
    """A contract's values as ServiceStack JSON; values already `Encoded` as they are."""
    if isinstance(values, Encoded):
        return orjson.dumps(values)
    return orjson.dumps(to_json_value(contract, values))


def from_json_value(contract: Contract, value: dict) -> dict:
    """The values of `contract` that `to_json_value` wrote as `value` (nulls it left out are
    None again), keyed by DataMember name: what the XML and CSV renderers take."""
    values = {}
    for name, json_name, kind, item in contract.json_plan:
        member = value.get(json_name)
        if member is not None and item is not None:
            if kind == LIST:
                member = [from_json_value(item, element) for element in member]
            elif kind == OBJECT:
                member = from_json_value(item, member)
        values[name] = member
    return values


def parse_json(contract: Contract, body: bytes | str) -> dict:
    """A contract's values from the ServiceStack JSON `render_json` wrote."""
    return from_json_value(contract, orjson.loads(body))


def valid_callback(name: str) -> bool:
    """A JSONP callback must be a plain (dotted) JavaScript identifier: nothing executable."""
    return len(name) <= 128 and bool(_CALLBACK.match(name))


def render_jsonp(callback: str, body: bytes) -> bytes:
    """A JSON body wrapped in a JSONP callback (already validated)."""
    return callback.encode() + b"(" + body + b")"
