"""API authentication, as Evo Voice does it: HTTP Basic on any request, or the `ss-id` cookie
from `POST /auth/credentials`. The portal's own Django session is also accepted, with CSRF
enforced (so a page can call the API, and a forged cross-site request cannot)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication

from sessions_app.models import ApiAuthSession, User

COOKIE = "ss-id"
OPT_COOKIE = "ss-opt"
SESSION_LIFETIME = timedelta(hours=12)
REMEMBER_LIFETIME = timedelta(days=14)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic, as Evo Voice clients send it, in realm `evovoice`."""

    www_authenticate_realm = "evovoice"


class PortalSessionAuthentication(authentication.SessionAuthentication):
    """The portal's own Django session, with CSRF enforced, so a portal page may call
    the API and a forged cross-site request may not."""

    pass


class ApiCookieAuthentication(authentication.BaseAuthentication):
    """The `ss-id` cookie: SameSite=Strict and HttpOnly, so no CSRF token is needed."""

    def authenticate(self, request):
        token = request.COOKIES.get(COOKIE)
        if not token:
            return None
        row = (
            ApiAuthSession.objects.select_related("user")
            .filter(key_hash=_hash(token), expires__gt=timezone.now())
            .first()
        )
        if row is None or not row.user.is_active:
            return None
        return row.user, row


def start_api_session(response, user: User, *, remember_me: bool) -> str:
    """Create an API cookie session for `user` and set its cookies on `response`."""
    token = secrets.token_urlsafe(32)
    lifetime = REMEMBER_LIFETIME if remember_me else SESSION_LIFETIME
    ApiAuthSession.objects.create(
        key_hash=_hash(token),
        user=user,
        expires=timezone.now() + lifetime,
        remember_me=remember_me,
    )
    ApiAuthSession.objects.filter(expires__lte=timezone.now()).delete()
    max_age = int(lifetime.total_seconds()) if remember_me else None
    secure = not settings.DEBUG
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
        ApiAuthSession.objects.filter(key_hash=_hash(token)).delete()
    response.delete_cookie(COOKIE, samesite="Strict")
    response.delete_cookie(OPT_COOKIE, samesite="Strict")
