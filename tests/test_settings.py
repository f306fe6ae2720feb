"""Settings fail closed: debug is off unless asked for, production refuses to start without its
secrets, a malformed value names its variable, and importing the settings creates nothing. The
demo needs DJANGO_DEBUG=1 and nothing else.

Each case starts a fresh process, as a deployment would, with none of the test process's own
settings (tests/settings.py puts a test key and hosts in its environment)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _environment(env: dict) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return {**clean, **env}


def _check(env: dict) -> subprocess.CompletedProcess:
    """`manage.py check`: the settings, the apps and the URLs load."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _setting(name: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(settings.{name})"],
        cwd=ROOT,
        env=_environment({"DJANGO_SETTINGS_MODULE": "portal.settings", **env}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_asked_for():
    production = {"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.org"}
    assert _setting("DEBUG", production) == "False"
    assert _setting("DEBUG", {**production, "DJANGO_DEBUG": "1"}) == "True"


def test_a_start_without_settings_refuses_for_want_of_a_secret_key():
    result = _check({})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    # Empty counts as unset: `DJANGO_SECRET_KEY=` as copied from .env.example.
    result = _check(
        {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "", "DJANGO_ALLOWED_HOSTS": "example.org"}
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _check({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must be set" in result.stderr


def test_production_starts_with_its_secret_key_and_hosts():
    result = _check({"DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.org"})
    assert result.returncode == 0, result.stderr


def test_the_demo_starts_with_debug_on_and_nothing_else():
    result = _check({"DJANGO_DEBUG": "1"})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("WEB_CONCURRENCY", "abc", "an integer"),
        ("HOLD_WARN_SECONDS", "1.5", "an integer"),
        ("SIMULATED_PROVIDER_LATENCY", "slow", "a number"),
        ("SESSION_ACTION_WAIT_SECONDS", "10s", "a number"),
        ("DJANGO_DEBUG", "maybe", "a boolean"),
        # django-environ alone would read an unknown word as false: the pool silently off.
        ("DATABASE_POOL", "ture", "a boolean"),
        ("EVENTS_BACKEND", "redis", "one of postgres, local"),
        ("AUTH_FAILURE_LIMIT", "ten", "an integer"),
        ("TRUSTED_PROXIES", "10.0.0.0/33", "addresses or networks"),
        ("DJANGO_SECURE_PROXY_SSL_HEADER", "X Forwarded Proto", "a header name"),
        ("DJANGO_SECURE_HSTS_SECONDS", "a year", "an integer"),
    ],
)
def test_a_malformed_value_names_its_variable_and_what_it_expected(name, value, expected):
    env = {"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u@127.0.0.1:5432/unused", name: value}
    result = _check(env)
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]  # the exception, under its traceback
    assert f"ImproperlyConfigured: {name} must be {expected}" in error
    assert f"not '{value}'" in error
    assert "ValueError" not in result.stderr  # the error itself, not a traceback of the cast


def test_a_database_url_it_cannot_read_is_named_without_echoing_it():
    result = _check({"DJANGO_DEBUG": "1", "DATABASE_URL": "postgres://u:hunter2@db:port/name"})
    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_URL" in result.stderr
    assert "hunter2" not in result.stderr


def test_importing_the_settings_creates_nothing(tmp_path):
    """The settings module in a tree of its own (its BASE_DIR is that tree), imported in demo
    mode, whose defaults point into that tree (db.sqlite3, staticfiles/): nothing appears."""
    shutil.copytree(ROOT / "portal", tmp_path / "portal", ignore=shutil.ignore_patterns("__py*"))
    before = sorted(tmp_path.rglob("*"))
    result = subprocess.run(
        [sys.executable, "-c", "import portal.settings"],
        cwd=tmp_path,
        env=_environment({"DJANGO_DEBUG": "1", "PYTHONDONTWRITEBYTECODE": "1"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(tmp_path.rglob("*")) == before


TWILIO = {
    "DJANGO_DEBUG": "1",
    "TELEPHONY_PROVIDER": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0a" * 16,
    "TWILIO_AUTH_TOKEN": "token",
    "PUBLIC_BASE_URL": "https://voice.example.test",
}


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"])
def test_twilio_refuses_to_start_without_each_required_variable(missing):
    result = _check({**TWILIO, missing: ""})
    assert result.returncode != 0
    assert (
        f"ImproperlyConfigured: {missing} must be set when TELEPHONY_PROVIDER is twilio"
        in result.stderr
    )


@pytest.mark.parametrize("half", ["TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET"])
def test_an_api_key_is_a_pair(half):
    other = {"TWILIO_API_KEY_SID": "TWILIO_API_KEY_SECRET"}.get(half, "TWILIO_API_KEY_SID")
    result = _check({**TWILIO, half: "x"})
    assert result.returncode != 0
    assert f"{other} must be set when TELEPHONY_PROVIDER is twilio" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TWILIO_ACCOUNT_SID", "ACnope", "TWILIO_ACCOUNT_SID must be an account SID"),
        ("PUBLIC_BASE_URL", "voice.example.test", "PUBLIC_BASE_URL must be an http:// or https://"),
        ("TWILIO_API_BASE_URL", "ftp://x", "TWILIO_API_BASE_URL must be an http:// or https://"),
    ],
)
def test_twilio_settings_that_cannot_work_are_refused(name, value, expected):
    result = _check({**TWILIO, name: value})
    assert result.returncode != 0
    assert expected in result.stderr


@pytest.mark.parametrize(
    "provider", ["twilio", "Twilio", "sessions_app.telephony.twilio.TwilioProvider"]
)
def test_twilio_starts_with_its_variables_by_alias_or_dotted_path(provider):
    result = _check({**TWILIO, "TELEPHONY_PROVIDER": provider})
    assert result.returncode == 0, result.stderr


def test_the_simulated_provider_needs_no_twilio_variables():
    assert _setting("TWILIO_SELECTED", {"DJANGO_DEBUG": "1"}) == "False"
    result = _check({"DJANGO_DEBUG": "1", "TELEPHONY_PROVIDER": "simulated"})
    assert result.returncode == 0, result.stderr
