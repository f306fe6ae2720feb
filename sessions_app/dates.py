"""Reading dates from requests: one parser for the API and the portal."""

import re
from datetime import UTC, datetime, timedelta

from django.utils.dateparse import parse_date, parse_datetime

from .errors import ValidationFailed

# ServiceStack's own JSON date: milliseconds since the epoch, optionally with the sender's
# offset (which does not change the instant): `/Date(1577836800000)/`, `/Date(1577836800000-0500)/`.
WCF_DATE = re.compile(r"\\?/Date\((-?\d{1,15})([+-]\d{4})?\)\\?/")


def parse_start_date(value: str | None) -> datetime | None:
    """`StartDate`, read by `parse_wire_date`."""
    return parse_wire_date(value, field="StartDate")


def parse_wire_date(value: str | None, *, field: str) -> datetime | None:
    """A date from a request's `field`: ISO 8601 date or date-time (a naive value is UTC; a
    date alone is its midnight, UTC), or ServiceStack's `/Date(ms)/` and `/Date(ms+zzzz)/`.
    None if empty; ValidationFailed naming `field` if it is none of those."""
    if not value:
        return None
    try:
        wcf = WCF_DATE.fullmatch(value.strip())
        if wcf is not None:
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(wcf[1]))
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
            field,
            "InvalidDate",
            f"'{field}' must be an ISO 8601 date or date-time, or /Date(milliseconds)/.",
        )
    return parsed
