"""API authentication, as Evo Voice does it: HTTP Basic on any request, or the `ss-id` cookie
from `POST /auth/credentials`. The portal's own Django session is also accepted, with CSRF
enforced (so a page can call the API, and a forged cross-site request cannot)."""

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from sessions_app import selectors, signin
from sessions_app.clientaddress import client_address
from sessions_app.models import ApiAuthSession, User, Via
from sessions_app.services.auth import api_session_end, api_session_start, api_session_touch

COOKIE = "ss-id"
OPT_COOKIE = "ss-opt"
SESSION_LIFETIME = timedelta(hours=12)
REMEMBER_LIFETIME = timedelta(days=14)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class VerifiedCredentials:
    """Basic credentials checked recently, so that a client sending them on every request (as
    Evo Voice clients do) pays for the password hash (PBKDF2, a third of a second) once per
    `BASIC_AUTH_CACHE_SECONDS`, not per request, as Apache's mod_authn_socache does.

    Keyed by an HMAC of the username and password under the secret key: the password itself is
    never kept. Each entry holds the user's id and stored password hash; a hit is checked
    against the user as read for this very request, so a deactivation, a role or an account
    change counts on the next request, and a changed password (a new stored hash) turns the hit
    into a miss. Bounded: the least recently used entry goes first. Only successes are kept.
    """

    def __init__(self):
        self._entries: OrderedDict[bytes, tuple[int, str, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(username: str, password: str) -> bytes:
        message = f"{username}\0{password}".encode()
        return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()

    def holds(self, username: str, password: str, user: User | None) -> bool:
        """True if these credentials were verified for `user` (read afresh by the caller)
        and that still holds: the same user, active, with the same stored password hash."""
        if settings.BASIC_AUTH_CACHE_SECONDS <= 0:
            return False
        key = self._key(username, password)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            return False
        user_id, password_hash, expires = entry
        if (
            time.monotonic() >= expires
            or user is None
            or user.pk != user_id
            or not user.is_active
            or user.get_username() != username
            or not hmac.compare_digest(user.password, password_hash)
        ):
            self.forget(key)
            return False
        return True

    def remember(self, username: str, password: str, user: User) -> None:
        """Keep a successful check for `BASIC_AUTH_CACHE_SECONDS`."""
        if settings.BASIC_AUTH_CACHE_SECONDS <= 0:
            return
        expires = time.monotonic() + settings.BASIC_AUTH_CACHE_SECONDS
        key = self._key(username, password)
        with self._lock:
            self._entries[key] = (user.pk, user.password, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > settings.BASIC_AUTH_CACHE_SIZE:
                self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every check (tests)."""
        with self._lock:
            self._entries.clear()


verified_credentials = VerifiedCredentials()


class BasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic, as Evo Voice clients send it, in realm `evovoice`.

    One query reads the user and whether the username is locked out from the client's
    address: a lockout is refused there (`SignInLockedOut`, 429), before the cache and before
    any hash, the right password included. Then a recent successful check of the same
    credentials for that user is reused (`VerifiedCredentials`: no more queries, no hash);
    else the password is checked on the user read (as Django's `ModelBackend` checks it, the
    only backend configured), and a failure counted.
    """

    www_authenticate_realm = "evovoice"

    def authenticate_credentials(self, userid, password, request=None):
        address, now = client_address(request), timezone.now()
        user, locked_until = selectors.user_and_sign_in_lockout(
            username=userid, address=address, now=now
        )
        signin.refuse_if_locked_until(
            locked_until, now=now, username=userid, address=address, via=Via.API
        )
        if verified_credentials.holds(userid, password, user):
            return user, None
        user = signin.password_check_or_count(
            user, username=userid, password=password, address=address, via=Via.API
        )
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        verified_credentials.remember(userid, password, user)
        return user, None


class PortalSessionAuthentication(authentication.SessionAuthentication):
    """The portal's own Django session, with CSRF enforced, so a portal page may call
    the API and a forged cross-site request may not."""

    pass


class ApiCookieAuthentication(authentication.BaseAuthentication):
    """The `ss-id` cookie: SameSite=Strict and HttpOnly, so no CSRF token is needed. A token
    works until it expires, is revoked (its row deleted: on the API sessions page, or by
    signing out), or its user is deactivated or changes password (`ended_because`)."""

    def authenticate(self, request):
        token = request.COOKIES.get(COOKIE)
        if not token:
            return None
        now = timezone.now()
        row = (
            ApiAuthSession.objects.select_related("user")
            .filter(key_hash=_hash(token), expires__gt=now)
            .first()
        )
        if row is None or row.ended_because:
            return None
        api_session_touch(session=row, now=now, address=client_address(request))
        return row.user, row


def start_api_session(response, user: User, *, remember_me: bool, request=None) -> str:
    """Create an API cookie session for `user` and set its cookies on `response`: Secure when
    `request` came over HTTPS (directly, or through a proxy saying so in
    `SECURE_PROXY_SSL_HEADER`), so that a plain-HTTP deployment works and a TLS one never
    sends the token in the clear. `request` also says where the client signed in from."""
    token = secrets.token_urlsafe(32)
    lifetime = REMEMBER_LIFETIME if remember_me else SESSION_LIFETIME
    api_session_start(
        user=user,
        key_hash=_hash(token),
        expires=timezone.now() + lifetime,
        remember_me=remember_me,
        address=client_address(request) if request is not None else "",
        user_agent=request.META.get("HTTP_USER_AGENT", "") if request is not None else "",
    )
    max_age = int(lifetime.total_seconds()) if remember_me else None
    secure = request is not None and request.is_secure()
    response.set_cookie(
        COOKIE, token, max_age=max_age, httponly=True, samesite="Strict", secure=secure
    )
    response.set_cookie(
        OPT_COOKIE,
        "perm" if remember_me else "temp",
        max_age=max_age,
        samesite="Strict",
        secure=secure,
    )
    return token


def end_api_session(request, response) -> None:
    """Forget the request's `ss-id` session (if any) and clear its cookies on `response`."""
    token = request.COOKIES.get(COOKIE)
    if token:
        api_session_end(key_hash=_hash(token))
    response.delete_cookie(COOKIE, samesite="Strict")
    response.delete_cookie(OPT_COOKIE, samesite="Strict")
