"""Reading request DTOs the way ServiceStack binds them.

Fields come from the query string, then the body (JSON, XML, CSV or form), then the route's
path parameters, later sources winning; names match case-insensitively. Values are checked
against their contract field's kind, and enums against the Evo Voice names; every bad field
is reported, by name, in one 400.
"""

from datetime import UTC, datetime

from django.utils.dateparse import parse_date, parse_datetime

from sessions_app import models
from sessions_app.errors import FieldError, ValidationFailed
from sessions_app.wire.contracts import BOOL, ENUM, Contract

# Which enum each request field takes, with the Evo Voice type name for messages.
ENUMS: dict[str, tuple[str, type]] = {
    "Reason": ("SessionHoldReasons", models.HoldReason),
    "HoldReason": ("SessionHoldReasons", models.HoldReason),
    "CallState": ("SessionCallState", models.CallState),
    "QueueState": ("SessionQueueStates", models.QueueState),
}

MAX_STRING_LENGTH = 4000


def _items(source) -> list[tuple[str, object]]:
    if source is None:
        return []
    if hasattr(source, "lists"):  # QueryDict: the last value of a repeated key wins
        return [(key, values[-1]) for key, values in source.lists()]
    if isinstance(source, dict):
        return list(source.items())
    return []


def _coerce(name: str, kind: str, value) -> tuple[object, FieldError | None]:
    if value is None:
        return None, None
    if kind == BOOL:
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
            return value.strip().lower() in {"true", "1"}, None
        return None, FieldError(name, "InvalidType", f"'{name}' must be true or false.")
    if not isinstance(value, str):
        return None, FieldError(name, "InvalidType", f"'{name}' must be a string.")
    if len(value) > MAX_STRING_LENGTH:
        return None, FieldError(
            name, "MaximumLength", f"'{name}' must be {MAX_STRING_LENGTH} characters or fewer."
        )
    if "\x00" in value:
        return None, FieldError(name, "InvalidCharacters", f"'{name}' must not contain NUL.")
    if kind == ENUM:
        type_name, choices = ENUMS[name]
        if value == "" or value is None:
            return None, None
        by_name = {str(choice.value).lower(): choice.value for choice in choices}
        chosen = by_name.get(value.strip().lower())
        if chosen is None:
            valid = ", ".join(str(c.value) for c in choices)
            return None, FieldError(
                name, "InvalidEnum", f"'{value}' is not a valid {type_name}. Valid values: {valid}."
            )
        return chosen, None
    return value, None


def read_request(contract: Contract, *, query, body, path: dict) -> dict:
    """The request DTO as {FieldName: value}; absent fields are missing, explicit nulls None."""
    by_lower = {f.name.lower(): f for f in contract.all_fields}
    raw: dict[str, object] = {}
    for source in (_items(query), _items(body), list(path.items())):
        for key, value in source:
            field = by_lower.get(str(key).lower())
            if field is not None:
                raw[field.name] = value
    values, errors = {}, []
    for field in contract.all_fields:
        if field.name not in raw:
            continue
        value, error = _coerce(field.name, field.kind, raw[field.name])
        if error:
            errors.append(error)
        else:
            values[field.name] = value
    if errors:
        failure = ValidationFailed(errors[0].message, field_errors=tuple(errors))
        failure.code = errors[0].code
        raise failure
    return values


def parse_start_date(value: str | None) -> datetime | None:
    """ISO 8601 date or date-time; a naive value is UTC."""
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None:
            day = parse_date(value)
            parsed = datetime(day.year, day.month, day.day) if day else None
        # In UTC: PostgreSQL refuses offsets Python allows (beyond +-15:59).
        if parsed is not None:
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        parsed = None
    if parsed is None:
        raise ValidationFailed.for_field(
            "StartDate", "InvalidDate", "'StartDate' must be an ISO 8601 date or date-time."
        )
    return parsed
