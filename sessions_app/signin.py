"""Password sign-in, throttled, for every door that takes a password: HTTP Basic on any API
request, `POST /auth/credentials` (and its predefined routes), and the portal's and the admin's
sign-in forms.

Each door asks `refuse_if_locked_out` first, before any password hash runs (HTTP Basic reads
the lockout with its user, `refuse_if_locked_until`, before the cache of verified credentials:
a lockout refuses the right password too), then checks the password with
`authenticate_or_count` (or, on a user already read, `password_check_or_count`), which records
a failure. Failures are counted
per username and client address (`clientaddress.client_address`), so a guesser locks out only
itself: the same user from another address signs in as usual.

Concurrent guesses: the check and the record are apart (the hash runs between them), so a
client sending many guesses at once may get as many past the limit as it has in flight when
the limit is reached; from then on, every one is refused.
"""

import logging
import math
from datetime import datetime

from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.utils import timezone

from sessions_app import selectors
from sessions_app.errors import SignInLockedOut
from sessions_app.models import AuthFailure, User
from sessions_app.services.auth import auth_failure_record

logger = logging.getLogger("sessions_app.signin")
_MODEL_BACKEND = ModelBackend()


def refuse_if_locked_out(*, username: str, address: str, via: str) -> None:
    """Raise SignInLockedOut (with the seconds until it ends) if `username` may not sign in
    from `address` now. One query; no password is looked at."""
    now = timezone.now()
    ends = selectors.sign_in_lockout_ends(username=username, address=address, now=now)
    refuse_if_locked_until(ends, now=now, username=username, address=address, via=via)


def refuse_if_locked_until(
    ends: datetime | None, *, now: datetime, username: str, address: str, via: str
) -> None:
    """Raise SignInLockedOut if a lockout read at `now` (`selectors.sign_in_lockout_ends`, or
    with the user: `selectors.user_and_sign_in_lockout`) ends later; the refusal is logged."""
    if ends is None or ends <= now:
        return
    retry_after = max(1, math.ceil((ends - now).total_seconds()))
    logger.info(
        "sign-in refused (locked out for %d s more): user %r from %s via %s",
        retry_after,
        AuthFailure.username_key(username),
        address or "?",
        via,
    )
    raise SignInLockedOut(retry_after)


def authenticate_or_count(
    request, *, username: str, password: str, address: str, via: str
) -> User | None:
    """The active user these credentials are for, or None, the failure recorded (a wrong
    password, an unknown or an inactive user alike). Call `refuse_if_locked_out` first."""
    user = authenticate(request, username=username, password=password)
    if user is not None and user.is_active:
        return user
    auth_failure_record(username=username, address=address, via=via)
    return None


def password_check_or_count(
    user: User | None, *, username: str, password: str, address: str, via: str
) -> User | None:
    """`authenticate_or_count` for a user already read (HTTP Basic reads it with its lockout,
    `selectors.user_and_sign_in_lockout`, so a first request reads it once): Django's
    `ModelBackend` check on it. An unknown username costs a hash too, so the time taken does
    not tell whether it exists; an inactive user is refused whatever the password."""
    if user is None:
        User().set_password(password)
    elif user.check_password(password) and _MODEL_BACKEND.user_can_authenticate(user):
        return user
    auth_failure_record(username=username, address=address, via=via)
    return None
