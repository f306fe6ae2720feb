"""Small presentation helpers for the portal templates."""

from datetime import datetime, timedelta

from django import template
from django.utils import timezone

from sessions_app.wire.dto import wire_date

register = template.Library()


@register.filter
def clock(value: timedelta | None) -> str:
    """A duration as M:SS or H:MM:SS."""
    if value is None:
        return "–"
    seconds = max(int(value.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.filter
def since(value: datetime | None) -> timedelta | None:
    """The time passed since `value` (None stays None)."""
    return timezone.now() - value if value else None


@register.filter
def iso(value: datetime | None) -> str:
    """A date as the wire writes it, for `datetime` attributes and the timers."""
    return wire_date(value) or ""


@register.simple_tag
def hold_level(session, warn: int, alert: int) -> str:
    """'alert' past the second threshold, 'warn' past the first, '' otherwise."""
    if not session.held_at:
        return ""
    held = (timezone.now() - session.held_at).total_seconds()
    return "alert" if held >= alert else "warn" if held >= warn else ""
