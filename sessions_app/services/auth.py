"""Writes of signing in: failed sign-ins, counted for the throttle (`sessions_app.signin`)."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sessions_app import selectors
from sessions_app.models import AuthFailure

logger = logging.getLogger("sessions_app.signin")


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
