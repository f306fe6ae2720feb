"""JSON as ServiceStack writes it: camelCase keys, nulls omitted, booleans and enums always;
or, for a request with `?jsconfig=`, as the client asks (`render_json_with`)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache

import orjson

from .contracts import BOOL, DATE, ENUM, INT, LIST, OBJECT, Contract

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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


# --- ?jsconfig=: one response's JSON customised by the client ---------------------------------
#
# Kept apart from `to_json_value` above, which every JSON answer goes through and which stays as
# lean as it is: only a request with a `jsconfig` that changes something takes this path.

CAMEL, PASCAL, SNAKE = "camel", "pascal", "snake"
# ServiceStack's DateHandler names (and short aliases), lowered, as `JsConfig.CreateScope` reads
# them; TimestampOffset writes a UTC date as DCJSCompatible does.
_DATE_HANDLERS = {
    "iso8601": "iso8601",
    "dcjsc": "dcjs",
    "dcjscompatible": "dcjs",
    "to": "dcjs",
    "timestampoffset": "dcjs",
    "iso8601do": "date",
    "iso8601dateonly": "date",
    "iso8601dt": "datetime",
    "iso8601datetime": "datetime",
    "rfc1123": "rfc1123",
    "ut": "unix",
    "unixtime": "unix",
    "utm": "unixms",
    "unixtimems": "unixms",
}
_TEXT_CASES = {
    "d": CAMEL,  # our default, which is camelCase
    "default": CAMEL,
    "cc": CAMEL,
    "camelcase": CAMEL,
    "pc": PASCAL,
    "pascalcase": PASCAL,
    "sc": SNAKE,
    "snakecase": SNAKE,
}


@dataclass(frozen=True)
class JsonConfig:
    """How one response's JSON is written (`?jsconfig=`). The defaults are our JSON as always:
    camelCase names, nulls left out, defaults kept, dates in ISO 8601, not indented."""

    text_case: str = CAMEL
    exclude_default_values: bool = False
    include_default_enums: bool = True
    include_null_values: bool = False
    date_handler: str = "iso8601"
    indent: bool = False


DEFAULT_JSON_CONFIG = JsonConfig()


def parse_jsconfig(text: str | None) -> JsonConfig:
    """ServiceStack's `?jsconfig=`: comma-separated `Name:value` or bare names (true), names in
    any case, long or short (`EmitLowercaseUnderscoreNames` or `elun`); a value other than
    `false` or `0` is true. As ServiceStack does, unknown names, and values a known name does
    not know (`DateHandler:Soon`), are ignored. `EmitCamelCaseNames:false` writes the names as
    declared (PascalCase), as ServiceStack did when its own default was camelCase."""
    options: dict = {}
    for item in (text or "")[:1000].split(","):
        key, _, value = item.strip().partition(":")
        key, value = key.strip().lower(), value.strip().lower()
        on = value not in ("false", "0")
        if key in ("eccn", "emitcamelcasenames"):
            options["text_case"] = CAMEL if on else PASCAL
        elif key in ("elun", "emitlowercaseunderscorenames") and on:
            options["text_case"] = SNAKE
        elif key in ("tc", "textcase") and value in _TEXT_CASES:
            options["text_case"] = _TEXT_CASES[value]
        elif key in ("edv", "excludedefaultvalues"):
            options["exclude_default_values"] = on
        elif key in ("ide", "includedefaultenums"):
            options["include_default_enums"] = on
        elif key in ("inv", "includenullvalues"):
            options["include_null_values"] = on
        elif key in ("dh", "datehandler") and value in _DATE_HANDLERS:
            options["date_handler"] = _DATE_HANDLERS[value]
        elif key in ("i", "pp", "indent"):
            options["indent"] = on
    return JsonConfig(**options)


@cache
def _name(name: str, text_case: str) -> str:
    if text_case == PASCAL:
        return name
    if text_case == SNAKE:
        return _WORD_START.sub("_", name).lower()
    return name[:1].lower() + name[1:]


def _date(text: str, handler: str):
    """A wire date (`dto.wire_date`: UTC, milliseconds) as `handler` writes it."""
    moment = datetime.fromisoformat(text)
    if handler == "date":
        return moment.strftime("%Y-%m-%d")
    if handler == "datetime":
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if handler == "rfc1123":
        return format_datetime(moment, usegmt=True)
    ms = (moment - _EPOCH) // timedelta(milliseconds=1)
    if handler == "unix":
        return ms // 1000
    if handler == "unixms":
        return ms
    return f"/Date({ms})/"  # dcjs: the slashes are escaped in `render_json_with`


def to_json_value_with(contract: Contract, values: dict, config: JsonConfig) -> dict:
    """A contract's values as a JSON-ready dict, written as `config` says."""
    out = {}
    for f in contract.all_fields:
        value = values.get(f.name)
        if value is None:
            if config.include_null_values:
                out[_name(f.name, config.text_case)] = None
            continue
        if config.exclude_default_values and _is_default(f, value, config):
            continue
        if f.item is not None:
            if f.kind == LIST:
                value = [to_json_value_with(f.item, element, config) for element in value]
            elif f.kind == OBJECT:
                value = to_json_value_with(f.item, value, config)
        elif f.kind == DATE and config.date_handler != "iso8601":
            value = _date(value, config.date_handler)
        out[_name(f.name, config.text_case)] = value
    return out


def _is_default(f, value, config: JsonConfig) -> bool:
    """ServiceStack's ExcludeDefaultValues: a member equal to its .NET type's default (false,
    0); an enum at its first member only if IncludeDefaultEnums is off."""
    if f.kind == BOOL:
        return value is False
    if f.kind == INT:
        return value == 0
    if f.kind == ENUM:
        return not config.include_default_enums and value == next(iter(f.enum)).value
    return False


def render_json_with(contract: Contract, values: dict, config: JsonConfig) -> bytes:
    """A contract's values as JSON written as `config` says (`render_json` when it is the
    default)."""
    if config == DEFAULT_JSON_CONFIG:
        return render_json(contract, values)
    options = orjson.OPT_INDENT_2 if config.indent else 0
    body = orjson.dumps(to_json_value_with(contract, values, config), option=options)
    if config.date_handler == "dcjs":
        # DataContractJsonSerializer's `"\/Date(ms)\/"`. `\/` is JSON's other way of writing
        # `/`, so escaping it in any string here changes no value, only how it is written.
        body = body.replace(b'"/Date(', b'"\\/Date(').replace(b')/"', b')\\/"')
    return body
