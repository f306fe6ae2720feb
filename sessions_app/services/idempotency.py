"""Idempotency keys (the IETF `Idempotency-Key` header): a write retried with the same key
answers what the first answered and does nothing twice.

The key is recorded, in its own transaction, before the write runs, so that a retry arriving
meanwhile is told to wait rather than acting a second time; the answer is stored when the write
is done. A key is its user's, lives `IDEMPOTENCY_KEY_TTL_HOURS`, and belongs to one request: the
same key with a different request is refused.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sessions_app.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from sessions_app.models import IdempotencyKey, User


@dataclass(frozen=True)
class StoredAnswer:
    """The answer the first request with a key got: status, headers and body, as sent."""

    status: int
    headers: dict
    body: bytes


def idempotency_key_begin(
    *, user: User, key: str, fingerprint: str
) -> IdempotencyKey | StoredAnswer:
    """Claim `key` for this request: the new claim to complete or release, or, if the request
    was already answered, that answer. IdempotencyKeyReused if the key was used for another
    request; IdempotencyKeyInUse if the first request with it is still running.

    Expired keys are forgotten here. A claim older than `SESSION_ACTION_STALE_SECONDS` that was
    never completed is taken over: the process that made it died mid-request (a request cannot
    run longer than an action may stay in flight).
    """
    now = timezone.now()
    with transaction.atomic():
        IdempotencyKey.objects.filter(
            created__lt=now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
        ).delete()
        claim, created = IdempotencyKey.objects.select_for_update().get_or_create(
            user=user, key=key, defaults={"fingerprint": fingerprint, "created": now}
        )
        if created:
            return claim
        if claim.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if claim.completed is not None:
            return StoredAnswer(
                claim.response_status, claim.response_headers, bytes(claim.response_body)
            )
        if claim.created > now - timedelta(seconds=settings.SESSION_ACTION_STALE_SECONDS):
            raise IdempotencyKeyInUse(claim.created)
        claim.created = now
        claim.save(update_fields=["created"])
        return claim


def idempotency_key_complete(claim: IdempotencyKey, answer: StoredAnswer) -> None:
    """Store the answer of the request that claimed the key: retries get it from now on."""
    IdempotencyKey.objects.filter(pk=claim.pk).update(
        completed=timezone.now(),
        response_status=answer.status,
        response_headers=answer.headers,
        response_body=answer.body,
    )


def idempotency_key_release(claim: IdempotencyKey) -> None:
    """Forget a claim whose request did nothing that must not be repeated (it failed before
    acting, or met another action in progress): a retry with the key runs afresh."""
    IdempotencyKey.objects.filter(pk=claim.pk, completed__isnull=True).delete()
