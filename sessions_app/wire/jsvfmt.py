"""JSV, ServiceStack's own text format (`text/jsv`): `{Name:Value,List:[a,b],Map:{k:v}}`, member
names as declared, nulls left out, a string quoted (`"..."`, inner quotes doubled) only when it
holds a character JSV uses (`[]{},"`) or white space. The CSV format writes nested values in it.

Reading is for request DTOs: a JSV object becomes a dict of strings, lists and dicts, which the
request binder checks against the contract like any other body.
"""

from .contracts import Contract

_SPECIAL = set('[]{},"\r\n\t ')


def _string(value: str) -> str:
    if value == "" or any(ch in _SPECIAL for ch in value):
        return '"' + value.replace('"', '""') + '"'
    return value


def jsv_value(value, item: Contract | None = None) -> str:
    """One value in JSV; a dict is a DTO when `item` says which (its members in order)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(jsv_value(v, item) for v in value) + "]"
    if isinstance(value, dict) and item is not None:
        parts = []
        for f in item.all_fields:
            v = value.get(f.name)
            if v is not None:
                parts.append(f"{f.name}:{jsv_value(v, f.item)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{jsv_value(v)}" for k, v in value.items()) + "}"
    return _string(str(value))


def render_jsv(contract: Contract, values: dict) -> bytes:
    """A contract's values as a JSV document."""
    return jsv_value(values, contract).encode("utf-8")


class JSVError(ValueError):
    """The text is not JSV; the message says where."""


def parse_jsv(text: str) -> object:
    """A JSV document as Python values: objects are dicts, lists lists, everything else the
    string it reads as (the binder converts `true`, enums, ...)."""
    value, end = _parse(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise JSVError(f"unexpected text at position {end}")
    return value


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _parse(text: str, at: int) -> tuple[object, int]:
    if at >= len(text):
        return "", at
    if text[at] == "{":
        return _parse_object(text, at + 1)
    if text[at] == "[":
        return _parse_list(text, at + 1)
    if text[at] == '"':
        return _parse_quoted(text, at + 1)
    end = at
    while end < len(text) and text[end] not in ",}]":
        end += 1
    return text[at:end].rstrip(" \t\r\n"), end


def _parse_quoted(text: str, at: int) -> tuple[str, int]:
    out = []
    while at < len(text):
        if text[at] == '"':
            if text[at + 1 : at + 2] == '"':
                out.append('"')
                at += 2
                continue
            return "".join(out), at + 1
        out.append(text[at])
        at += 1
    raise JSVError("a quoted string is not closed")


def _parse_list(text: str, at: int) -> tuple[list, int]:
    items: list = []
    at = _skip(text, at)
    if text[at : at + 1] == "]":
        return items, at + 1
    while at < len(text):
        value, at = _parse(text, _skip(text, at))
        items.append(value)
        at = _skip(text, at)
        if text[at : at + 1] == ",":
            at += 1
        elif text[at : at + 1] == "]":
            return items, at + 1
        else:
            break
    raise JSVError(f"a list is not closed at position {at}")


def _parse_object(text: str, at: int) -> tuple[dict, int]:
    members: dict = {}
    at = _skip(text, at)
    if text[at : at + 1] == "}":
        return members, at + 1
    while at < len(text):
        if text[at] == '"':
            key, at = _parse_quoted(text, at + 1)
        else:
            end = at
            while end < len(text) and text[end] not in ":,}":
                end += 1
            key, at = text[at:end].strip(" \t\r\n"), end
        if text[at : at + 1] != ":":
            raise JSVError(f"expected ':' after '{key}' at position {at}")
        value, at = _parse(text, _skip(text, at + 1))
        members[key] = value
        at = _skip(text, at)
        if text[at : at + 1] == ",":
            at = _skip(text, at + 1)
        elif text[at : at + 1] == "}":
            return members, at + 1
        else:
            break
    raise JSVError(f"an object is not closed at position {at}")
