"""Reading request DTOs the way ServiceStack binds them.

Fields come from the query string, then the body (JSON, XML, CSV or form), then the route's
path parameters, later sources winning; names match case-insensitively. Values are checked
against their contract field's kind, and enums against the Evo Voice names; every bad field
is reported, by name, in one 400.
"""

import re

from sessions_app.errors import FieldError, ValidationFailed
from sessions_app.wire.contracts import BOOL, ENUM, INT, LIST, Contract, Field

MAX_STRING_LENGTH = 4000
# The range of a .NET `int`, which is what ServiceStack binds an integer field to.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")


def _items(source, list_names: set[str]) -> list[tuple[str, object]]:
    if source is None:
        return []
    if hasattr(source, "lists"):
        # QueryDict: the last value of a repeated key wins, but a list's repeated key adds to
        # it, whatever its case (`?AccountIds=a&accountIds=b,c` is a, b, c), as ServiceStack
        # binds them (ASP.NET's query string ignores the case of keys).
        items, lists = [], {}
        for key, values in source.lists():
            if key.lower() in list_names:
                lists.setdefault(key.lower(), []).extend(values)
            else:
                items.append((key, values[-1]))
        return items + [(key, ",".join(values)) for key, values in lists.items()]
    if isinstance(source, dict):
        return list(source.items())
    return []


def _coerce(field: Field, value) -> tuple[object, FieldError | None]:
    name, kind = field.name, field.kind
    if value is None:
        return None, None
    if kind == BOOL:
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
            return value.strip().lower() in {"true", "1"}, None
        return None, FieldError(name, "InvalidType", f"'{name}' must be true or false.")
    if kind == LIST and field.item is None:  # a list of strings (webhooks' EventKinds)
        return _string_list(name, value)
    if kind == INT:
        return _integer(name, value)
    if not isinstance(value, str):
        return None, FieldError(name, "InvalidType", f"'{name}' must be a string.")
    if len(value) > MAX_STRING_LENGTH:
        return None, FieldError(
            name, "MaximumLength", f"'{name}' must be {MAX_STRING_LENGTH} characters or fewer."
        )
    if "\x00" in value:
        return None, FieldError(name, "InvalidCharacters", f"'{name}' must not contain NUL.")
    if kind == ENUM:
        if value == "":
            return None, None
        chosen = field.enum.parse(value)
        if chosen is None:
            valid = ", ".join(field.enum.values())
            return None, FieldError(
                name,
                "InvalidEnum",
                f"'{value}' is not a valid {field.enum.__name__}. Valid values: {valid}.",
            )
        return chosen.value, None
    return value, None


def _integer(name: str, value) -> tuple[int | None, FieldError | None]:
    """An integer: a JSON number without a fraction, or its decimal text."""
    if isinstance(value, str) and value.strip() == "":
        return None, None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    if number is None or not INT_MIN <= number <= INT_MAX:
        return None, FieldError(name, "InvalidType", f"'{name}' must be an integer.")
    return number, None


def _string_list(name: str, value) -> tuple[list[str] | None, FieldError | None]:
    """A list of strings: a JSON array, or (query string, form, CSV, XML) text separated by
    commas, as ServiceStack binds them, optionally in JSV brackets: `a,b` or `[a,b]`."""
    if isinstance(value, str):
        value = [part.strip() for part in value.strip().strip("[]").split(",")]
        value = [part for part in value if part]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None, FieldError(name, "InvalidType", f"'{name}' must be a list of strings.")
    if sum(len(item) for item in value) > MAX_STRING_LENGTH:
        return None, FieldError(
            name, "MaximumLength", f"'{name}' must be {MAX_STRING_LENGTH} characters or fewer."
        )
    return value, None


def read_request(contract: Contract, *, query, body, path: dict) -> dict:
    """The request DTO as {FieldName: value}; absent fields are missing, explicit nulls None."""
    by_lower = {f.name.lower(): f for f in contract.all_fields}
    list_names = {name for name, f in by_lower.items() if f.kind == LIST}
    raw: dict[str, object] = {}
    for source in (_items(query, list_names), _items(body, list_names), list(path.items())):
        for key, value in source:
            field = by_lower.get(str(key).lower())
            if field is not None:
                raw[field.name] = value
    values, errors = {}, []
    for field in contract.all_fields:
        if field.name not in raw:
            continue
        value, error = _coerce(field, raw[field.name])
        if error:
            errors.append(error)
        else:
            values[field.name] = value
    if errors:
        failure = ValidationFailed(errors[0].message, field_errors=tuple(errors))
        failure.code = errors[0].code
        raise failure
    return values
