"""Writes of the Server Events subscriptions (`models.EventSubscription`): one row per open
`/event-stream`, so that a heartbeat or an unregister reaching any server process is seen by
the process holding the stream (`sessions_app.serverevents`). Each function is one statement,
so one transaction in autocommit."""

import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from sessions_app.models import EventSubscription, User


def subscription_open(
    *, user: User, channels: str, account_ids: list[str] | None
) -> EventSubscription:
    """Record a new subscription with a fresh unguessable id (the client's capability for its
    heartbeat and unregister URLs)."""
    return EventSubscription.objects.create(
        id=secrets.token_urlsafe(24),
        user=user,
        channels=channels,
        account_ids=account_ids,
    )


def subscription_pulse(*, subscription_id: str) -> datetime | None:
    """A heartbeat: the subscription lives on. Returns the pulse's time, or None if there is
    no such subscription (unregistered, dropped as idle, or never was)."""
    now = timezone.now()
    updated = EventSubscription.objects.filter(pk=subscription_id).update(last_pulse_at=now)
    return now if updated else None


def subscription_close(*, subscription_id: str) -> bool:
    """Forget a subscription (its stream ended or the client unregistered); True if it was
    there."""
    deleted, _ = EventSubscription.objects.filter(pk=subscription_id).delete()
    return bool(deleted)


def subscriptions_drop_idle(*, idle_timeout: float) -> int:
    """Delete every subscription without a heartbeat for `idle_timeout` seconds (whichever
    process holds it: that process ends the stream when it finds the row gone)."""
    cutoff = timezone.now() - timedelta(seconds=idle_timeout)
    deleted, _ = EventSubscription.objects.filter(last_pulse_at__lt=cutoff).delete()
    return deleted
