"""Failed sign-ins on the API (`sessions_app.signin`): after AUTH_FAILURE_LIMIT failures in the
window for one username from one address, HTTP Basic and POST /auth/credentials (and its
predefined routes) answer 429 with Retry-After and ServiceStack's error body, without running a
password hash, the right password included; another address is not locked out; the lockout
ends with the window. Counts live in the database, so every server process sees them."""

import logging

import httpx
import pytest
from rest_framework.test import APIClient

from sessions_app.api.authentication import COOKIE
from sessions_app.models import ApiAuthSession, AuthFailure, Via
from sessions_app.services.auth import auth_failure_record
from tests.conftest import PASSWORD, age_failures, basic_auth, error_status, served

LIMIT = 3
WINDOW = 900
LOCKED_OUT = "Too many failed sign-in attempts for this user from your address; try again in "


@pytest.fixture(autouse=True)
def _throttle(settings):
    settings.AUTH_FAILURE_LIMIT = LIMIT
    settings.AUTH_FAILURE_WINDOW_SECONDS = WINDOW


def basic(client, password=PASSWORD, username="alice", path="/auth", **extra):
    return client.get(path, HTTP_AUTHORIZATION=basic_auth(username, password), **extra)


def fail_basic(client, times=LIMIT, username="alice", **extra):
    for _ in range(times):
        assert basic(client, "wrong", username=username, **extra).status_code == 401


# --- HTTP Basic -------------------------------------------------------------------------------


def test_basic_under_the_limit_still_signs_in(client, user):
    fail_basic(client, LIMIT - 1)

    assert basic(client).status_code == 200


def test_basic_past_the_limit_is_429_in_servicestack_json_with_retry_after(client, user):
    fail_basic(client)

    response = basic(client, "wrong")

    assert response.status_code == 429
    status = error_status(response)
    assert status["errorCode"] == "TooManyRequests"
    assert status["message"] == LOCKED_OUT + "15 minutes"
    assert status["errors"] == []
    assert WINDOW - 5 <= int(response["Retry-After"]) <= WINDOW


def test_basic_past_the_limit_is_429_in_servicestack_xml(client, user, session):
    fail_basic(client)

    response = basic(client, path=f"/sessions/{session.id}.xml")

    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/xml")
    assert error_status(response)["errorCode"] == "TooManyRequests"
    assert "Retry-After" in response


def test_a_lockout_refuses_the_right_password_without_running_a_hash(client, user, password_hashes):
    fail_basic(client)
    password_hashes.clear()

    right = basic(client)
    wrong = basic(client, "wrong-again")

    assert [right.status_code, wrong.status_code] == [429, 429]
    assert password_hashes == []


def test_the_lockout_comes_before_the_cache_of_verified_credentials(client, user, session):
    assert basic(client).status_code == 200  # verified, and remembered
    fail_basic(client)

    response = basic(client, path=f"/sessions/{session.id}")

    assert response.status_code == 429


def test_a_refused_attempt_is_not_counted(client, user):
    fail_basic(client)
    for _ in range(5):
        assert basic(client).status_code == 429

    assert AuthFailure.objects.count() == LIMIT


def test_an_unknown_username_costs_a_hash_as_a_known_one_does(client, user, password_hashes):
    basic(client, "wrong", username="nobody")
    assert password_hashes == ["encode"]  # the hash Django runs in place of a check

    password_hashes.clear()
    basic(client, "wrong")
    assert password_hashes == ["verify", "encode"]  # (the check hashes the password given)


def test_an_unknown_username_is_locked_out_as_well(client, db, password_hashes):
    fail_basic(client, username="mallory")
    password_hashes.clear()

    assert basic(client, "guess", username="mallory").status_code == 429
    assert password_hashes == []


def test_the_same_user_from_another_address_is_not_locked_out(client, user):
    fail_basic(client)

    response = basic(client, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 200


def test_another_user_from_the_same_address_is_not_locked_out(client, user, account):
    from tests.factories import UserFactory

    UserFactory(username="bob", accounts=[account])
    fail_basic(client)

    assert basic(client, username="bob").status_code == 200


def test_the_lockout_ends_with_the_window(client, user):
    fail_basic(client)
    assert basic(client).status_code == 429

    age_failures(WINDOW + 1)

    assert basic(client).status_code == 200


def test_only_failures_within_the_window_count(client, user):
    fail_basic(client, LIMIT - 1)
    age_failures(WINDOW - 60)
    fail_basic(client, 1)  # LIMIT in all, but the oldest leave the window in a minute

    response = basic(client)
    assert response.status_code == 429
    assert 55 <= int(response["Retry-After"]) <= 60
    assert error_status(response)["message"] == LOCKED_OUT + "1 minute"

    age_failures(61)
    assert basic(client).status_code == 200


def test_a_failure_clears_everyones_failures_older_than_the_window(client, user):
    auth_failure_record(username="someone", address="192.0.2.1", via=Via.API)
    age_failures(WINDOW + 1)

    fail_basic(client, 1)

    assert list(AuthFailure.objects.values_list("username", "address", "via")) == [
        ("alice", "127.0.0.1", "api")
    ]


def test_a_limit_of_zero_never_locks_out(client, user, settings):
    settings.AUTH_FAILURE_LIMIT = 0
    fail_basic(client, LIMIT + 2)

    assert basic(client).status_code == 200


def test_a_malformed_body_does_not_keep_a_failure_from_counting(client, user):
    for _ in range(LIMIT):
        response = client.post(
            "/api/NoSuchOperation",
            b"{not json",
            content_type="application/json",
            HTTP_AUTHORIZATION=basic_auth("alice", "wrong"),
        )
        assert response.status_code == 401

    assert basic(client).status_code == 429


# --- POST /auth/credentials and its predefined routes ----------------------------------------

SIGN_IN_ROUTES = ["/auth/credentials", "/api/Authenticate", "/json/reply/Authenticate"]


def sign_in(client, route="/auth/credentials", password=PASSWORD, **extra):
    body = {"provider": "credentials", "userName": "alice", "password": password}
    return client.post(route, body, format="json", **extra)


@pytest.mark.parametrize("route", SIGN_IN_ROUTES)
def test_sign_in_past_the_limit_is_429_and_starts_no_session(route, user, password_hashes):
    client = APIClient()
    for _ in range(LIMIT):
        assert sign_in(client, route, password="wrong").status_code == 401
    password_hashes.clear()

    response = sign_in(client, route)

    assert response.status_code == 429
    assert error_status(response)["errorCode"] == "TooManyRequests"
    assert WINDOW - 5 <= int(response["Retry-After"]) <= WINDOW
    assert COOKIE not in response.cookies
    assert not ApiAuthSession.objects.exists()
    assert password_hashes == []


def test_sign_in_past_the_limit_answers_xml_when_asked(user):
    client = APIClient()
    for _ in range(LIMIT):
        sign_in(client, password="wrong")

    response = sign_in(client, "/auth/credentials.xml")

    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/xml")
    assert error_status(response)["errorCode"] == "TooManyRequests"


def test_failures_through_one_door_lock_the_others(client, user):
    fail_basic(client)

    assert sign_in(APIClient()).status_code == 429
    assert (
        client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
        == 429
    )


def test_sign_in_failures_are_counted_with_basic_ones(client, user):
    for _ in range(LIMIT - 1):
        sign_in(APIClient(), password="wrong")
    fail_basic(client, 1)

    assert basic(client).status_code == 429


# --- the client's address behind a proxy ----------------------------------------------------


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(client, user):
    for n in range(LIMIT):
        # A client rotating the header does not escape: the socket's address counts.
        basic(client, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    assert basic(client, HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429
    assert set(AuthFailure.objects.values_list("address", flat=True)) == {"127.0.0.1"}


def test_a_trusted_proxys_x_forwarded_for_names_the_client(client, user, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    for n in range(LIMIT):
        # What the client wrote on the left changes; what our proxies saw does not.
        basic(client, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5, 10.1.2.3")

    locked = basic(client, HTTP_X_FORWARDED_FOR="203.0.113.5, 10.9.9.9")
    other_client = basic(client, HTTP_X_FORWARDED_FOR="203.0.113.6, 10.1.2.3")

    assert (locked.status_code, other_client.status_code) == (429, 200)
    assert set(AuthFailure.objects.values_list("address", flat=True)) == {"203.0.113.5"}


# --- logs ---------------------------------------------------------------------------------


def test_failures_refusals_and_the_lockout_are_logged(client, user, caplog):
    caplog.set_level(logging.INFO, logger="sessions_app.signin")
    fail_basic(client)
    basic(client)

    records = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "sessions_app.signin"
    ]
    assert records[: LIMIT - 1] == [
        ("INFO", "sign-in failed: user 'alice' from 127.0.0.1 via api")
    ] * (LIMIT - 1)
    level, lockout = records[LIMIT - 1]
    assert level == "WARNING"
    assert lockout.startswith(
        f"sign-in locked out: user 'alice' from 127.0.0.1 via api after {LIMIT} failures in "
        f"{WINDOW} s, until "
    )
    level, refused = records[LIMIT]
    assert level == "INFO"
    assert refused.startswith("sign-in refused (locked out for ")
    assert PASSWORD not in caplog.text and "wrong" not in caplog.text


# --- another process --------------------------------------------------------------------------


def test_a_lockout_recorded_by_one_process_holds_in_another(transactional_db):
    for _ in range(10):  # the server runs with the default limit
        auth_failure_record(username="alice", address="127.0.0.1", via=Via.API)

    with served(log_name="throttling.log") as url:
        auth = {"Authorization": basic_auth("alice")}
        api = httpx.get(f"{url}/auth", headers=auth, timeout=10)
        stream = httpx.get(f"{url}/event-stream", headers=auth, timeout=10)

    for response in (api, stream):
        assert response.status_code == 429
        assert response.json()["responseStatus"]["errorCode"] == "TooManyRequests"
        assert int(response.headers["Retry-After"]) > 800
