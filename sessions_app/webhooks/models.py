"""Webhook subscriptions, the deliveries of session events to them, and every attempt.

A subscription belongs to one account and receives the events of that account's sessions
(all kinds, or those it lists), from its creation on: `cursor_seq` is the last event already
turned into deliveries, so the worker (`delivery.py`) picks up exactly the events after it.
A delivery is one event for one subscription; each HTTP request for it is one attempt.
"""

from django.db import models
from django.utils import timezone

from sessions_app.models import Account, CallSession, SessionEvent, new_id


class WebhookSubscription(models.Model):
    """Where an account's session events are sent, signed with `secret`.

    The secret is kept because every delivery is signed with it; it is shown once, in the
    answer that creates the subscription, and afterwards only as `secret_hint`.
    """

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2000)  # checked by `targets.url_problem`
    # EventKind values; empty means every kind.
    event_kinds = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, editable=False)
    created_by = models.CharField(max_length=150)
    created = models.DateTimeField(default=timezone.now)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The last event seq already turned into deliveries (or skipped by the kind filter).
    cursor_seq = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["account__name", "created", "id"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret_hint(self) -> str:
        """Enough of the secret to tell two apart, never enough to use it."""
        return f"whsec_…{self.secret.rstrip('=')[-4:]}"

    def wants(self, kind: str) -> bool:
        """Whether events of `kind` are sent to this subscription."""
        return not self.event_kinds or kind in self.event_kinds


class DeliveryStatus(models.TextChoices):
    """Where one delivery stands."""

    PENDING = "pending"  # due at `next_attempt_at` (or being sent, while `claimed_until`)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # the retry schedule ran out, or the receiver answered 410
    CANCELLED = "cancelled"  # the subscription was disabled before it went


class WebhookDelivery(models.Model):
    """One event for one subscription, with the exact body every attempt sends (so a retry or
    a redelivery is byte for byte the message first sent)."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(SessionEvent, on_delete=models.CASCADE, related_name="+")
    # The event's session, kept here so "an earlier delivery of the same session is still
    # pending" is one index lookup (deliveries go in order per session).
    session = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Attempts in the current run of the retry schedule (a redelivery starts a new run); every
    # attempt ever made is a WebhookAttempt row.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker sending it holds it until then; a worker that died mid-send lets it go then.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    created = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-event_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], name="webhook_delivery_once_per_event"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["subscription", "session", "event"],
                name="webhook_delivery_session_idx",
                condition=models.Q(status="pending"),
            ),
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"event #{self.event_id} to {self.subscription_id} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == DeliveryStatus.PENDING


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: when, how long, and what came back (or what failed)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    started = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    # Seconds the receiver asked to wait (Retry-After), as honoured.
    retry_after = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["started", "id"]

    def __str__(self) -> str:
        return f"{self.response_status or self.error} at {self.started:%H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300
