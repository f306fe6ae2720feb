"""The portal's and the admin's sign-in forms are throttled like the API (`sessions_app.signin`):
past the limit, the page answers 429 with Retry-After and says how long to wait, signs nobody
in, and runs no password hash."""

import pytest

from sessions_app.models import AuthFailure, Role
from tests.conftest import PASSWORD, age_failures
from tests.factories import UserFactory
from tests.test_api_throttling import LIMIT, WINDOW

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/?next=/admin/"
MISMATCH = "Your username and password didn't match"
LOCKED_OUT = "Too many failed sign-in attempts for this user from your address; try again in"


@pytest.fixture(autouse=True)
def _throttle(settings):
    settings.AUTH_FAILURE_LIMIT = LIMIT
    settings.AUTH_FAILURE_WINDOW_SECONDS = WINDOW


def sign_in(client, password=PASSWORD, url=LOGIN, **extra):
    return client.post(url, {"username": "alice", "password": password}, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_wrong_password_is_counted_and_shown_as_usual(client, user):
    response = sign_in(client, "wrong")

    assert response.status_code == 200
    assert MISMATCH in response.content.decode()
    assert list(AuthFailure.objects.values_list("username", "via")) == [("alice", "portal")]


def test_past_the_limit_the_page_is_429_with_the_wait_in_words(client, user, password_hashes):
    for _ in range(LIMIT):
        sign_in(client, "wrong")
    password_hashes.clear()

    response = sign_in(client)

    assert response.status_code == 429
    assert WINDOW - 5 <= int(response["Retry-After"]) <= WINDOW
    page = response.content.decode()
    assert f"{LOCKED_OUT} 15 minutes." in page
    assert MISMATCH not in page
    assert not signed_in(client)
    assert password_hashes == []


def test_the_same_user_from_another_address_signs_in(client, user):
    for _ in range(LIMIT):
        sign_in(client, "wrong")

    response = sign_in(client, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    assert signed_in(client)


def test_the_portal_lockout_ends_with_the_window(client, user):
    for _ in range(LIMIT):
        sign_in(client, "wrong")
    assert sign_in(client).status_code == 429

    age_failures(WINDOW + 1)

    assert sign_in(client).status_code == 302


def test_the_admins_sign_in_is_throttled_too(client, account, password_hashes):
    UserFactory(username="alice", role=Role.SYSTEM_ADMINISTRATOR, is_staff=True)
    for _ in range(LIMIT):
        assert sign_in(client, "wrong", url=ADMIN_LOGIN).status_code == 200
    password_hashes.clear()

    response = sign_in(client, url=ADMIN_LOGIN)

    assert LOCKED_OUT in response.content.decode()
    assert not signed_in(client)
    assert password_hashes == []
    assert set(AuthFailure.objects.values_list("via", flat=True)) == {"portal"}
