"""Small presentation helpers for the portal templates."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe

from sessions_app import rows
from sessions_app.wire.dto import wire_date

register = template.Library()


@register.filter
def clock(value: timedelta | None) -> str:
    """A duration as M:SS or H:MM:SS."""
    return "–" if value is None else rows.clock(value.total_seconds())


@register.filter
def since(value: datetime | None) -> timedelta | None:
    """The time passed since `value` (None stays None)."""
    return timezone.now() - value if value else None


@register.filter
def iso(value: datetime | None) -> str:
    """A date as the wire writes it, for `datetime` attributes and the timers."""
    return wire_date(value) or ""


# In a session row, kept for as long as its session does not change (`rows`): what depends on
# the time is a hole, filled when the row is sent.


@register.simple_tag
def live_clock(value: datetime | None) -> str:
    """The time since `value`, as `clock` writes it, as of when the row is sent."""
    return rows.hole("clock", value.timestamp()) if value else mark_safe("&ndash;")


@register.simple_tag
def live_hold_class(held_at: datetime | None) -> str:
    """' hold-warn' or ' hold-alert' past the hold thresholds (settings) when the row is
    sent, else nothing."""
    return rows.hole("held", held_at.timestamp()) if held_at else ""
