"""Writes of signing in: failed sign-ins, counted for the throttle (`sessions_app.signin`),
and the API's `ss-id` sessions: started, touched when used, ended, revoked."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sessions_app import selectors
from sessions_app.errors import ResourceNotFound
from sessions_app.models import ApiAuthSession, AuthFailure, User

logger = logging.getLogger("sessions_app.signin")

# An API session's `last_used` is written when it is older than this: one write a minute for a
# busy client, not one per request.
LAST_USED_EVERY = timedelta(minutes=1)


def auth_failure_record(*, username: str, address: str, via: str) -> datetime | None:
    """Record a failed sign-in of `username` from `address`; returns when the lockout it
    brings about ends, or None if there is none yet. Logged, at WARNING when it locks out.

    One transaction: everyone's failures older than the window are deleted (so the table
    holds one window's worth), this one is added, and the window is counted with it.
    """
    username = AuthFailure.username_key(username)
    now = timezone.now()
    with transaction.atomic():
        window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
        AuthFailure.objects.filter(at__lte=now - window).delete()
        AuthFailure.objects.create(username=username, address=address, via=via, at=now)
        ends = selectors.sign_in_lockout_ends(username=username, address=address, now=now)
    if ends is None:
        logger.info("sign-in failed: user %r from %s via %s", username, address or "?", via)
    else:
        logger.warning(
            "sign-in locked out: user %r from %s via %s after %d failures in %d s, until %s",
            username,
            address or "?",
            via,
            settings.AUTH_FAILURE_LIMIT,
            settings.AUTH_FAILURE_WINDOW_SECONDS,
            f"{ends:%Y-%m-%d %H:%M:%S} UTC",
        )
    return ends


def api_session_start(
    *,
    user: User,
    key_hash: str,
    expires: datetime,
    remember_me: bool,
    address: str,
    user_agent: str,
) -> ApiAuthSession:
    """Record a new `ss-id` session (only the hash of its token), and forget everyone's
    expired ones."""
    row = ApiAuthSession.objects.create(
        key_hash=key_hash,
        user=user,
        expires=expires,
        remember_me=remember_me,
        auth_hash=user.get_session_auth_hash(),
        address=address,
        user_agent=user_agent[: ApiAuthSession._meta.get_field("user_agent").max_length],
    )
    ApiAuthSession.objects.filter(expires__lte=timezone.now()).delete()
    return row


def api_session_touch(*, session: ApiAuthSession, now: datetime, address: str) -> None:
    """Note that `session` was used at `now` from `address`, unless that was noted less than
    `LAST_USED_EVERY` ago (by this or any process: the condition is in the UPDATE)."""
    if session.last_used is not None and now - session.last_used < LAST_USED_EVERY:
        return
    stale = ApiAuthSession.objects.filter(pk=session.pk).filter(
        Q(last_used__isnull=True) | Q(last_used__lte=now - LAST_USED_EVERY)
    )
    stale.update(last_used=now, last_used_address=address)


def api_session_end(*, key_hash: str) -> None:
    """Forget the `ss-id` session with this token hash (its client signed out), if any."""
    ApiAuthSession.objects.filter(key_hash=key_hash).delete()


def api_session_revoke(*, by: User, public_id: str) -> ApiAuthSession:
    """Revoke an API session `by` may see (their own; an administrator: anyone's): its token
    fails from the next request on. ResourceNotFound for another user's, as for none."""
    with transaction.atomic():
        session = (
            selectors.api_sessions_visible_to(by)
            .select_for_update(of=("self",))
            .filter(public_id=public_id)
            .first()
        )
        if session is None:
            raise ResourceNotFound(f"API session '{public_id}' does not exist")
        ApiAuthSession.objects.filter(pk=session.pk).delete()
    logger.info(
        "API session %s of user %r revoked by %r",
        public_id,
        session.user.get_username(),
        by.get_username(),
    )
    return session
