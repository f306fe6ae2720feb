"""Every write of the webhooks app, each one transaction.

People (Managers of the account, administrators) create, enable, disable and delete
subscriptions and ask for redeliveries. The delivery worker (`delivery.py`) writes only through
the three steps below, so that several workers can run at once:

    queue:  with the subscription row locked (SKIP LOCKED: one worker per subscription at a
            time), turn the events after its cursor into deliveries and move the cursor;
    claim:  lock due deliveries (SKIP LOCKED) and lease them to this worker, never one whose
            session has an earlier pending delivery to the same subscription (in order per
            session); commit, then send with no transaction open;
    record: with the delivery locked, store the attempt and what follows from it.

A worker that dies mid-send loses its lease after `WEBHOOK_TIMEOUT_SECONDS` plus a margin and
another worker sends again: delivery is at least once.
"""

import secrets
import uuid
from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from sessions_app.errors import InvalidState, ValidationFailed
from sessions_app.models import CallSession, EventKind, SessionEvent, User
from sessions_app.selectors import latest_event_seq, session_records

from . import payloads, selectors
from .models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription
from .targets import target_refusal

QUEUE_BATCH = 200
LEASE_MARGIN_SECONDS = 30
EXCERPT_LENGTH = 500


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` and base64 of 32 random
    bytes."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


def event_kinds_from(values) -> list[str]:
    """The event kinds asked for, checked: `held` or `session.held`, any case; duplicates
    dropped. Empty means every kind."""
    valid = EventKind.values
    kinds = []
    for value in values or []:
        name = str(value).strip().lower().removeprefix("session.")
        if not name:
            continue
        if name not in valid:
            raise ValidationFailed.for_field(
                "EventKinds",
                "InvalidEnum",
                f"'{value}' is not an event kind. Valid values: {', '.join(valid)}.",
            )
        if name not in kinds:
            kinds.append(name)
    return kinds


def webhook_create(
    *,
    user: User,
    url: str,
    event_kinds=(),
    account_id: str | None = None,
    active: bool = True,
) -> WebhookSubscription:
    """Subscribe `url` to the events of an account `user` manages (the only one, when
    `account_id` is not given). The answer carries `secret`, shown to the user this once.

    The subscription starts at the newest event: it receives what happens from now on, not
    the history.
    """
    url = (url or "").strip()
    refusal = target_refusal(url)
    if refusal:
        raise ValidationFailed.for_field("Url", "InvalidUrl", refusal)
    kinds = event_kinds_from(event_kinds)
    managed = selectors.accounts_managed_by(user)
    if account_id:
        account = managed.filter(pk=account_id).first()
        if account is None:
            raise ValidationFailed.for_field(
                "AccountId", "NotFound", f"No account '{account_id}' whose webhooks you manage."
            )
    else:
        accounts = list(managed[:2])
        if len(accounts) != 1:
            raise ValidationFailed.for_field(
                "AccountId", "NotEmpty", "'AccountId' is required: name the account."
            )
        account = accounts[0]
    with transaction.atomic(durable=True):
        return WebhookSubscription.objects.create(
            account=account,
            url=url,
            event_kinds=kinds,
            active=active,
            secret=new_secret(),
            created_by=user.get_username(),
            cursor_seq=latest_event_seq(),
        )


def webhook_delete(*, user: User, webhook_id: str) -> WebhookSubscription:
    """Delete a subscription `user` manages, with its deliveries and attempts; returns it as
    it was."""
    with transaction.atomic(durable=True):
        webhook = selectors.webhook_get_for(user=user, webhook_id=webhook_id)
        WebhookSubscription.objects.filter(pk=webhook.pk).delete()
    return webhook


def webhook_set_active(*, user: User, webhook_id: str, active: bool) -> WebhookSubscription:
    """Enable or disable a subscription `user` manages.

    Disabling cancels its pending deliveries. Enabling starts it afresh at the newest event,
    as a new subscription would: what happened while it was off is not sent.
    """
    with transaction.atomic(durable=True):
        webhook = selectors.webhook_get_for(user=user, webhook_id=webhook_id)
        webhook = WebhookSubscription.objects.select_for_update().get(pk=webhook.pk)
        if webhook.active == active:
            return webhook
        if active:
            _enable(webhook)
        else:
            _disable(webhook, f"Disabled by {user.get_username()}")
    return webhook


def _enable(webhook: WebhookSubscription) -> None:
    """The subscription locked by the caller: on again, from the newest event."""
    webhook.active = True
    webhook.disabled_reason = ""
    webhook.disabled_at = None
    webhook.cursor_seq = latest_event_seq()
    webhook.save(update_fields=["active", "disabled_reason", "disabled_at", "cursor_seq"])


def _disable(webhook: WebhookSubscription, reason: str) -> None:
    """The subscription locked by the caller: off, its pending deliveries cancelled."""
    now = timezone.now()
    webhook.active = False
    webhook.disabled_reason = reason[:300]
    webhook.disabled_at = now
    webhook.save(update_fields=["active", "disabled_reason", "disabled_at"])
    webhook.deliveries.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, finished_at=now, claimed_until=None, claim_token=""
    )


def delivery_redeliver(*, user: User, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery again, now, with a fresh run of the retry schedule (its earlier
    attempts stay recorded). Its subscription must be enabled."""
    with transaction.atomic(durable=True):
        found = selectors.delivery_get_for(user=user, delivery_id=delivery_id)
        delivery = WebhookDelivery.objects.select_for_update().get(pk=found.pk)
        if not found.subscription.active:
            raise InvalidState("This webhook is disabled: enable it before redelivering.")
        delivery.status = DeliveryStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = timezone.now()
        delivery.finished_at = None
        # A lease in force stays: the worker sending it now finishes first, then it goes again.
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "finished_at"])
    delivery.subscription = found.subscription
    return delivery


# --- the delivery worker's steps --------------------------------------------------------------


def subscriptions_behind() -> list[str]:
    """Ids of the active subscriptions with events after their cursor (maybe of other
    accounts: `deliveries_queue` finds out)."""
    last = latest_event_seq()
    return list(
        WebhookSubscription.objects.filter(active=True, cursor_seq__lt=last)
        .order_by("cursor_seq")
        .values_list("id", flat=True)
    )


def deliveries_queue(webhook_id: str) -> int:
    """Turn the events after the subscription's cursor into deliveries (those of its account,
    of the kinds it wants) and move the cursor past them, in one transaction. Skips a
    subscription another worker is queuing. Returns how many deliveries were made.

    Events commit in seq order (`services.unit`), so nothing can appear behind the cursor.
    """
    with transaction.atomic(durable=True):
        webhook = (
            WebhookSubscription.objects.select_for_update(skip_locked=True)
            .filter(pk=webhook_id, active=True)
            .first()
        )
        if webhook is None:
            return 0
        # Read first: every event up to it has committed, so the query below sees them all.
        last = latest_event_seq()
        events = list(
            SessionEvent.objects.filter(
                seq__gt=webhook.cursor_seq, seq__lte=last, session__account_id=webhook.account_id
            ).order_by("seq")[:QUEUE_BATCH]
        )
        if len(events) == QUEUE_BATCH:
            last = events[-1].seq  # the rest in the next pass
        # else every event of the account up to `last` is seen: the cursor passes the other
        # accounts' events too.
        wanted = [event for event in events if webhook.wants(event.kind)]
        if wanted:
            sessions = CallSession.objects.filter(pk__in={event.session_id for event in wanted})
            records = {record["id"]: record for record in session_records(sessions)}
            # A session deleted since the events were read has taken its events along.
            wanted = [event for event in wanted if event.session_id in records]
            WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        subscription=webhook,
                        event_id=event.seq,
                        session_id=event.session_id,
                        kind=event.kind,
                        body=payloads.event_body(event, records[event.session_id]),
                    )
                    for event in wanted
                ],
                ignore_conflicts=True,
            )
        webhook.cursor_seq = max(last, webhook.cursor_seq)
        webhook.save(update_fields=["cursor_seq"])
    return len(wanted)


def _sendable(now: datetime):
    """Pending deliveries of active subscriptions that no worker holds and that no earlier
    pending delivery of the same session (to the same subscription) is waiting before."""
    earlier_pending = WebhookDelivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        session_id=OuterRef("session_id"),
        status=DeliveryStatus.PENDING,
        event_id__lt=OuterRef("event_id"),
    )
    return (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, subscription__active=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exclude(Exists(earlier_pending))
    )


@dataclass(frozen=True)
class Claimed:
    """A delivery leased to this worker: what to send, where, and the lease's token."""

    delivery_id: int
    subscription_id: str
    token: str
    url: str
    secret: str
    message_id: str
    body: str


def deliveries_claim(*, limit: int = 20, now: datetime | None = None) -> list[Claimed]:
    """Lease up to `limit` due deliveries of active subscriptions to this worker, oldest event
    first, at most one per (subscription, session), and never one behind an earlier pending
    delivery of its session. Deliveries another worker holds are skipped, not waited for."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)
    token = uuid.uuid4().hex
    if not _sendable(now).filter(next_attempt_at__lte=now).exists():
        return []  # idle: no write transaction (on SQLite it would take the database's lock)
    with transaction.atomic(durable=True):
        due = list(
            _sendable(now)
            .filter(next_attempt_at__lte=now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .order_by("event_id", "id")[:limit]
        )
        if not due:
            return []
        WebhookDelivery.objects.filter(pk__in=[d.pk for d in due]).update(
            claimed_until=now + lease, claim_token=token
        )
    return [
        Claimed(
            delivery_id=d.pk,
            subscription_id=d.subscription_id,
            token=token,
            url=d.subscription.url,
            secret=d.subscription.secret,
            message_id=str(d.event_id),
            body=d.body,
        )
        for d in due
    ]


@dataclass(frozen=True)
class AttemptOutcome:
    """What one HTTP request of a delivery came to."""

    started: datetime
    duration_ms: int
    status: int | None = None  # the response's status, None if there was no response
    error: str = ""  # why there was no (good) response: a timeout, a refused target, ...
    excerpt: str = ""  # the start of the response body
    retry_after: float | None = None  # seconds the receiver asked to wait (429/503)

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def delivery_record(claimed: Claimed, outcome: AttemptOutcome) -> WebhookDelivery | None:
    """Record one attempt of a claimed delivery and what follows, in one transaction:

    - 2xx: delivered;
    - 410 Gone: the delivery has failed, the subscription is disabled (the reason says why)
      and its other pending deliveries are cancelled;
    - anything else: the next attempt after the schedule's next pause (`Retry-After` of a
      429 or 503 instead, bounded), or, after the schedule's last attempt, failed for good,
      which lets the session's next deliveries go.

    A worker whose lease ran out (another one took the delivery over) records its attempt and
    changes nothing else. Returns the delivery, or None if it was deleted meanwhile.
    """
    with transaction.atomic(durable=True):
        webhook = None
        if outcome.status == 410:
            # Subscription before delivery, in the order disabling by hand locks them.
            webhook = (
                WebhookSubscription.objects.select_for_update()
                .filter(pk=claimed.subscription_id)
                .first()
            )
        delivery = (
            WebhookDelivery.objects.select_for_update().filter(pk=claimed.delivery_id).first()
        )
        if delivery is None:
            return None
        honoured = _retry_after(outcome)
        WebhookAttempt.objects.create(
            delivery=delivery,
            started=outcome.started,
            duration_ms=outcome.duration_ms,
            response_status=outcome.status,
            error=outcome.error[:500],
            response_excerpt=outcome.excerpt[:EXCERPT_LENGTH],
            retry_after=honoured,
        )
        if delivery.claim_token != claimed.token:
            return delivery
        now = timezone.now()
        delivery.claimed_until = None
        delivery.claim_token = ""
        delivery.attempts += 1
        schedule = settings.WEBHOOK_RETRY_SCHEDULE
        if outcome.succeeded:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.finished_at = now
        elif outcome.status == 410:
            delivery.status = DeliveryStatus.FAILED
            delivery.finished_at = now
            if webhook is not None and webhook.active:
                _disable(webhook, "The receiver answered 410 Gone: it wants no more events.")
        elif delivery.attempts >= len(schedule):
            delivery.status = DeliveryStatus.FAILED
            delivery.finished_at = now
        else:
            pause = honoured if honoured is not None else schedule[delivery.attempts]
            delivery.next_attempt_at = now + timedelta(seconds=pause)
        delivery.save(
            update_fields=[
                "claimed_until",
                "claim_token",
                "attempts",
                "status",
                "finished_at",
                "next_attempt_at",
            ]
        )
    return delivery


def _retry_after(outcome: AttemptOutcome) -> float | None:
    """The receiver's Retry-After, honoured only on 429 and 503 and never past
    `WEBHOOK_RETRY_AFTER_MAX_SECONDS`."""
    if outcome.retry_after is None or outcome.status not in (429, 503):
        return None
    return max(0.0, min(outcome.retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS))


def next_due_in(now: datetime | None = None) -> float | None:
    """Seconds until the next delivery a worker could claim is due (0 if one is due now), or
    None if there is none: how long an idle worker may sleep. Deliveries held by a worker or
    waiting behind an earlier one of their session do not count (they would wake it for
    nothing)."""
    now = now or timezone.now()
    first = (
        _sendable(now).order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
    )
    if first is None:
        return None
    return max(0.0, (first - now).total_seconds())
