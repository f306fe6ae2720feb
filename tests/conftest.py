import base64

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from tests.factories import PASSWORD, AccountFactory, CallSessionFactory, UserFactory


def pytest_configure(config):
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        raise pytest.UsageError(
            "The tests run on PostgreSQL: set DATABASE_URL (see README, `make test`)."
        )


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Hashing every Basic-auth password with PBKDF2 would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Invited parties never answer on their own; tests make them answer when they want.
    settings.SIMULATED_ANSWER_DELAY = -1


@pytest.fixture
def account(db):
    return AccountFactory(name="Acme")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Globex")


@pytest.fixture
def user(account):
    return UserFactory(username="alice", accounts=[account])


@pytest.fixture
def session(account):
    return CallSessionFactory(account=account)


def basic_auth(username: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def api(user):
    """An API client authenticated as `user` with HTTP Basic, as Evo Voice clients do."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username))
    return client


@pytest.fixture
def anon_api(db):
    return APIClient()
