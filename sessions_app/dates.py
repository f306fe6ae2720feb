"""Reading dates from requests: one parser for the API and the portal."""

from datetime import UTC, datetime

from django.utils.dateparse import parse_date, parse_datetime

from .errors import ValidationFailed


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
