"""HTTPS: the `ss-id` and `ss-opt` cookies are Secure exactly when the sign-in came over HTTPS
(directly, or through a proxy saying so in DJANGO_SECURE_PROXY_SSL_HEADER, and only when that
is configured), so a plain-HTTP deployment works and a TLS one is protected; HSTS is sent, over
HTTPS, only when DJANGO_SECURE_HSTS_SECONDS asks for it."""

import pytest
from rest_framework.test import APIClient

from sessions_app.api.authentication import COOKIE, OPT_COOKIE
from tests.conftest import PASSWORD
from tests.test_settings import _setting

PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def sign_in(**extra):
    return APIClient().post(
        "/auth/credentials",
        {"userName": "alice", "password": PASSWORD, "rememberMe": True},
        format="json",
        **extra,
    )


def secure_flags(response) -> set:
    return {bool(response.cookies[name]["secure"]) for name in (COOKIE, OPT_COOKIE)}


def test_over_https_the_cookies_are_secure(user):
    assert secure_flags(sign_in(secure=True)) == {True}


def test_over_plain_http_the_cookies_are_not_secure(user):
    response = sign_in()

    assert response.status_code == 200
    assert secure_flags(response) == {False}


def test_a_configured_proxys_https_header_makes_them_secure(user, settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER

    assert secure_flags(sign_in(HTTP_X_FORWARDED_PROTO="https")) == {True}
    assert secure_flags(sign_in(HTTP_X_FORWARDED_PROTO="http")) == {False}


def test_the_proxy_header_means_nothing_unless_configured(user):
    assert secure_flags(sign_in(HTTP_X_FORWARDED_PROTO="https")) == {False}


def test_no_hsts_by_default(client, db):
    assert "Strict-Transport-Security" not in client.get("/accounts/login/", secure=True)


def test_hsts_when_configured_over_https_only(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    over_https = client.get("/accounts/login/", secure=True)
    over_http = client.get("/accounts/login/")

    assert over_https["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in over_http


@pytest.mark.parametrize(
    ("env", "name", "value"),
    [
        ({}, "SECURE_HSTS_SECONDS", "0"),
        ({"DJANGO_SECURE_HSTS_SECONDS": "31536000"}, "SECURE_HSTS_SECONDS", "31536000"),
        ({"DJANGO_SECURE_HSTS_PRELOAD": "1"}, "SECURE_HSTS_PRELOAD", "True"),
        ({}, "SECURE_PROXY_SSL_HEADER", "None"),
        (
            {"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"},
            "SECURE_PROXY_SSL_HEADER",
            "('HTTP_X_FORWARDED_PROTO', 'https')",
        ),
        (
            {"DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Ssl=on"},
            "SECURE_PROXY_SSL_HEADER",
            "('HTTP_X_FORWARDED_SSL', 'on')",
        ),
        (
            {"TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"},
            "TRUSTED_PROXIES",
            "['10.0.0.1', '192.168.0.0/16']",
        ),
    ],
)
def test_the_settings_come_from_the_environment(env, name, value):
    base = {"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u@127.0.0.1:5432/unused"}
    assert _setting(name, {**base, **env}) == value
