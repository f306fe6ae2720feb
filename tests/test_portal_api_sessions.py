"""The API sessions page (/accounts/api-sessions/): a user sees their own `ss-id` sessions (when
and where each signed in, when and where it was last used, its client, remember-me) and revokes
them, after which the token fails; another user's are invisible and a revoke of one is a 404;
an administrator sees and revokes everyone's."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sessions_app.models import ApiAuthSession, Role
from tests.conftest import PASSWORD
from tests.factories import UserFactory

PAGE = "/accounts/api-sessions/"
HTMX = {"HTTP_HX_REQUEST": "true"}


def api_sign_in(username="alice", **extra) -> APIClient:
    """An API client signed in through POST /auth/credentials (so with an `ss-id` token)."""
    client = APIClient()
    response = client.post(
        "/auth/credentials",
        {"userName": username, "password": PASSWORD, "rememberMe": True},
        format="json",
        **extra,
    )
    assert response.status_code == 200
    return client


def revoke_url(row: ApiAuthSession) -> str:
    return f"/accounts/api-sessions/{row.public_id}/revoke"


@pytest.fixture
def bob(account):
    return UserFactory(username="bob", accounts=[account])


@pytest.fixture
def as_alice(client, user):
    client.force_login(user)
    return client


def test_the_header_links_the_page(as_alice):
    assert b'href="/accounts/api-sessions/"' in as_alice.get("/").content


def test_the_page_needs_a_sign_in(client, db):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_sees_their_sessions_with_where_and_when(as_alice, user, bob):
    api_sign_in("alice", REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="evo-client/1.2")
    api_sign_in("bob", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="bobs-client/9")
    mine = ApiAuthSession.objects.get(user=user)

    page = as_alice.get(PAGE).content.decode()

    assert f'id="api-session-{mine.public_id}"' in page
    assert "from 198.51.100.7" in page
    assert "evo-client/1.2" in page
    assert "remember me" in page
    assert "not yet" in page  # never used since signing in
    assert "Revoke</button>" in page
    # Bob's session is not there, nor the user column an administrator sees
    assert "203.0.113.9" not in page and "bobs-client" not in page
    assert ">User</th>" not in page
    assert mine.key_hash not in page


def test_last_used_is_shown_and_written_at_most_once_a_minute(as_alice, user, session):
    client = api_sign_in("alice")
    assert client.get(f"/sessions/{session.id}", REMOTE_ADDR="192.0.2.44").status_code == 200
    row = ApiAuthSession.objects.get()
    first_use = row.last_used
    assert (first_use is not None, row.last_used_address) == (True, "192.0.2.44")

    client.get(f"/sessions/{session.id}", REMOTE_ADDR="192.0.2.45")
    row.refresh_from_db()
    assert (row.last_used, row.last_used_address) == (first_use, "192.0.2.44")  # not again

    ApiAuthSession.objects.update(last_used=first_use - timedelta(seconds=61))
    client.get(f"/sessions/{session.id}", REMOTE_ADDR="192.0.2.45")
    row.refresh_from_db()
    assert row.last_used > first_use and row.last_used_address == "192.0.2.45"

    assert "from 192.0.2.45" in as_alice.get(PAGE).content.decode()


def test_a_used_cookie_costs_one_write_a_minute_not_one_per_request(
    user, session, django_assert_num_queries
):
    client = api_sign_in("alice")
    client.get(f"/sessions/{session.id}")  # the first use is written

    # 1. the ss-id session with its user (no UPDATE of last_used: written under a minute ago),
    # then GetSession's own: 2. the session's stored document (stored by the first request)
    with django_assert_num_queries(2):
        assert client.get(f"/sessions/{session.id}").status_code == 200


def test_revoking_makes_the_token_fail_on_the_next_request(as_alice, user, session):
    client = api_sign_in("alice")
    assert client.get(f"/sessions/{session.id}").status_code == 200
    row = ApiAuthSession.objects.get()

    response = as_alice.post(revoke_url(row))

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert not ApiAuthSession.objects.exists()
    assert client.get(f"/sessions/{session.id}").status_code == 401
    assert "Your API session from" in as_alice.get(PAGE).content.decode()  # the message


def test_revoking_with_htmx_answers_the_row_marked_revoked(as_alice, user):
    api_sign_in("alice")
    row = ApiAuthSession.objects.get()

    response = as_alice.post(revoke_url(row), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="api-session-{row.public_id}">')
    assert "Revoked" in html and "Revoke</button>" not in html
    assert "portal-flash" in response["HX-Trigger-After-Swap"]
    assert not ApiAuthSession.objects.exists()


def test_revoking_needs_a_post(as_alice, user):
    api_sign_in("alice")
    row = ApiAuthSession.objects.get()

    assert as_alice.get(revoke_url(row)).status_code == 405
    assert ApiAuthSession.objects.exists()


def test_revoking_needs_the_csrf_token(client, user):
    api_sign_in("alice")
    row = ApiAuthSession.objects.get()
    client.handler.enforce_csrf_checks = True
    client.force_login(user)

    assert client.post(revoke_url(row)).status_code == 403
    assert ApiAuthSession.objects.exists()


def test_another_users_session_cannot_be_revoked_404(as_alice, user, bob):
    bobs = api_sign_in("bob")
    row = ApiAuthSession.objects.get(user=bob)

    for headers in ({}, HTMX):
        assert as_alice.post(revoke_url(row), **headers).status_code == 404
    assert as_alice.post("/accounts/api-sessions/no-such-id/revoke").status_code == 404

    assert ApiAuthSession.objects.filter(pk=row.pk).exists()
    assert bobs.get("/auth").status_code == 200


def test_a_manager_cannot_revoke_another_users_session(client, account, bob):
    manager = UserFactory(username="mary", role=Role.MANAGER, accounts=[account])
    api_sign_in("bob")
    client.force_login(manager)

    assert client.post(revoke_url(ApiAuthSession.objects.get())).status_code == 404
    assert "bob" not in client.get(PAGE).content.decode()


def test_an_administrator_sees_and_revokes_everyones(client, user, bob, other_account):
    admin = UserFactory(username="root", role=Role.SYSTEM_ADMINISTRATOR)
    alices = api_sign_in("alice")
    api_sign_in("bob")
    client.force_login(admin)

    page = client.get(PAGE).content.decode()
    assert ">User</th>" in page
    assert "<td>alice</td>" in page and "<td>bob</td>" in page

    row = ApiAuthSession.objects.get(user=user)
    response = client.post(revoke_url(row), **HTMX)
    assert response.status_code == 200
    assert "<td>alice</td>" in response.content.decode()
    assert alices.get("/auth").status_code == 401
    assert list(ApiAuthSession.objects.values_list("user__username", flat=True)) == ["bob"]


def test_ended_sessions_say_why_and_expired_ones_are_not_listed(as_alice, user):
    api_sign_in("alice")
    api_sign_in("alice")
    older, newer = ApiAuthSession.objects.order_by("created")
    ApiAuthSession.objects.filter(pk=older.pk).update(expires=timezone.now() - timedelta(seconds=1))
    ApiAuthSession.objects.filter(pk=newer.pk).update(auth_hash="from-an-old-password")

    page = as_alice.get(PAGE).content.decode()

    assert older.public_id not in page
    assert newer.public_id in page
    assert "the password has changed since" in page


def test_the_page_costs_a_fixed_number_of_queries(client, account, bob, django_assert_num_queries):
    admin = UserFactory(username="root", role=Role.SYSTEM_ADMINISTRATOR)
    for _ in range(3):
        api_sign_in("bob")
        api_sign_in("root")
    client.force_login(admin)

    # 1. the Django session, 2. the user, 3. the API sessions with their users
    with django_assert_num_queries(3):
        page = client.get(PAGE)

    assert page.content.decode().count("Revoke</button>") == 6
