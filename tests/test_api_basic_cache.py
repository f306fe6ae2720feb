"""HTTP Basic without a password hash per request (`api.authentication.VerifiedCredentials`):
the second request with the same credentials runs no hash, and a password change, a
deactivation, a role change or an account change each count on the very next request. (The
lockout after failed sign-ins comes before the cache: tests/test_api_throttling.py.)"""

import pytest

from sessions_app.api.authentication import verified_credentials
from sessions_app.models import Role, User
from tests.conftest import PASSWORD, basic_auth
from tests.factories import AccountFactory, CallSessionFactory, UserFactory


@pytest.fixture
def hashes(monkeypatch):
    """How many passwords were checked against their stored hash."""
    checked = []
    original = User.check_password

    def check_password(self, raw_password):
        checked.append(self.get_username())
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", check_password)
    return checked


def get(client, path, username="alice", password=PASSWORD):
    return client.get(path, HTTP_AUTHORIZATION=basic_auth(username, password))


def test_the_same_credentials_are_hashed_once(client, user, session, hashes):
    for _ in range(3):
        assert get(client, f"/sessions/{session.id}").status_code == 200

    assert hashes == ["alice"]


def test_a_cached_request_costs_the_queries_of_a_cookie_request(
    client, user, session, django_assert_num_queries
):
    get(client, f"/sessions/{session.id}")

    # The user with its sign-in lockout, then GetSession's own: the session's stored document
    # (stored by the first).
    with django_assert_num_queries(2):
        assert get(client, f"/sessions/{session.id}").status_code == 200


def test_a_wrong_password_is_never_remembered(client, user, session, hashes):
    for _ in range(2):
        assert get(client, f"/sessions/{session.id}", password="wrong").status_code == 401

    assert hashes == ["alice", "alice"]


def test_a_password_change_counts_on_the_next_request(client, user, session, hashes):
    assert get(client, f"/sessions/{session.id}").status_code == 200
    user.set_password("a-new-password")
    user.save(update_fields=["password"])

    assert get(client, f"/sessions/{session.id}").status_code == 401
    assert get(client, f"/sessions/{session.id}", password="a-new-password").status_code == 200


def test_a_deactivation_counts_on_the_next_request(client, user, session):
    assert get(client, f"/sessions/{session.id}").status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert get(client, f"/sessions/{session.id}").status_code == 401


def test_a_role_change_counts_on_the_next_request(client, user, session):
    assert get(client, f"/sessions/{session.id}").status_code == 200
    User.objects.filter(pk=user.pk).update(role=Role.NONE)

    response = get(client, f"/sessions/{session.id}")

    assert response.status_code == 403


def test_an_account_change_counts_on_the_next_request(client, user, account, session):
    assert get(client, f"/sessions/{session.id}").status_code == 200
    user.accounts.remove(account)

    assert get(client, f"/sessions/{session.id}").status_code == 404


def test_a_user_renamed_to_another_username_is_not_found_by_the_old_one(client, user, session):
    assert get(client, f"/sessions/{session.id}").status_code == 200
    User.objects.filter(pk=user.pk).update(username="alicia")

    assert get(client, f"/sessions/{session.id}").status_code == 401


def test_the_cache_is_bounded_the_least_recently_used_going_first(client, db, settings, hashes):
    settings.BASIC_AUTH_CACHE_SIZE = 2
    account = AccountFactory()
    session = CallSessionFactory(account=account)
    names = ["ann", "ben", "cat"]
    for name in names:
        UserFactory(username=name, accounts=[account])
    for name in names:  # ann is pushed out by cat
        get(client, f"/sessions/{session.id}", username=name)
    hashes.clear()

    for name in ["cat", "ben", "ann"]:
        assert get(client, f"/sessions/{session.id}", username=name).status_code == 200

    assert hashes == ["ann"]


def test_the_cache_expires(client, user, session, settings, hashes, monkeypatch):
    from sessions_app.api import authentication

    settings.BASIC_AUTH_CACHE_SECONDS = 300
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    get(client, f"/sessions/{session.id}")
    now[0] += 301

    get(client, f"/sessions/{session.id}")

    assert hashes == ["alice", "alice"]


def test_a_cache_of_zero_seconds_hashes_every_time(client, user, session, settings, hashes):
    settings.BASIC_AUTH_CACHE_SECONDS = 0
    for _ in range(2):
        get(client, f"/sessions/{session.id}")

    assert hashes == ["alice", "alice"]


def test_the_password_is_not_kept(client, user, session):
    get(client, f"/sessions/{session.id}")

    kept = repr(verified_credentials._entries)
    assert PASSWORD not in kept and "alice" not in kept
