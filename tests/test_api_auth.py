"""Who may call the API and how they sign in: HTTP Basic, the `ss-id` cookie from
POST /auth/credentials (no CSRF token needed), and the portal's Django session (CSRF enforced).
A session of another account is indistinguishable from one that does not exist."""

from datetime import timedelta

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.utils import timezone
from rest_framework.test import APIClient

from sessions_app.api.authentication import COOKIE, _hash
from sessions_app.models import ApiAuthSession, CallState, Role, SessionEvent
from tests.conftest import api_client_as, basic_auth, db_state, error_status
from tests.factories import CallSessionFactory, UserFactory

NO_SUCH_ID = "0" * 24  # the shape of a real id, so messages differ only by the id

# (method, url, JSON body) of every operation on one session; `{id}` is the session's id.
SESSION_OPERATIONS = [
    ("get", "/sessions/{id}", None),
    ("patch", "/sessions/{id}", {"consoleData": "x", "callState": "Hold"}),
    ("delete", "/sessions/{id}", None),
    ("post", "/sessions/{id}/hold", {"reason": "Transferring"}),
    ("post", "/sessions/{id}/conference/members", {"destination": "+15557654321"}),
    ("post", "/api/HoldSession", {"sessionId": "{id}"}),
    ("post", "/json/reply/PatchSession", {"sessionId": "{id}", "consoleData": "x"}),
    ("get", "/xml/reply/GetSession?sessionId={id}", None),
    ("delete", "/api/EndSession?sessionId={id}", None),
]
LIST_OPERATIONS = [
    ("get", "/portal/active-sessions", None),
    ("get", "/api/AppGetActiveSessions", None),
]


def call(client, operation, session_id: str):
    method, url, body = operation
    if body is not None:
        body = {k: v.replace("{id}", session_id) for k, v in body.items()}
    return getattr(client, method)(url.replace("{id}", session_id), body, format="json")


def operation_ids(operations):
    return [f"{method.upper()} {url.split('?')[0]}" for method, url, _ in operations]


# --- who may call -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    SESSION_OPERATIONS + LIST_OPERATIONS,
    ids=operation_ids(SESSION_OPERATIONS + LIST_OPERATIONS),
)
def test_anonymous_call_is_401_with_a_basic_challenge(anon_api, session, operation):
    before = db_state()

    response = call(anon_api, operation, session.id)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="evovoice"'
    assert error_status(response)["errorCode"] == "Unauthorized"
    assert db_state() == before


@pytest.mark.parametrize(
    "operation",
    SESSION_OPERATIONS + LIST_OPERATIONS,
    ids=operation_ids(SESSION_OPERATIONS + LIST_OPERATIONS),
)
def test_user_without_a_role_is_403_invalid_role(account, session, operation):
    nobody = UserFactory(role=Role.NONE, accounts=[account])
    before = db_state()

    response = call(api_client_as(nobody), operation, session.id)

    assert response.status_code == 403
    status = error_status(response)
    assert (status["errorCode"], status["message"]) == ("Forbidden", "Invalid Role")
    assert db_state() == before


@pytest.mark.parametrize("operation", SESSION_OPERATIONS, ids=operation_ids(SESSION_OPERATIONS))
def test_another_accounts_session_is_404_exactly_like_a_missing_one(api, other_account, operation):
    theirs = CallSessionFactory(account=other_account)
    before = db_state()

    response = call(api, operation, theirs.id)
    missing = call(api, operation, NO_SUCH_ID)

    assert response.status_code == missing.status_code == 404
    assert response.content.replace(theirs.id.encode(), b"ID") == missing.content.replace(
        NO_SUCH_ID.encode(), b"ID"
    )
    assert error_status(response)["message"] == f"Session '{theirs.id}' does not exist"
    assert db_state() == before


@pytest.mark.parametrize("role", [Role.USER, Role.MANAGER])
def test_user_and_manager_may_act_on_their_accounts_sessions(account, session, role):
    member = UserFactory(role=role, accounts=[account])

    response = api_client_as(member).post(f"/sessions/{session.id}/hold")

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD


def test_a_system_administrator_may_act_on_any_accounts_session(other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    theirs = CallSessionFactory(account=other_account)

    response = api_client_as(admin).patch(
        f"/sessions/{theirs.id}", {"consoleData": "admin"}, format="json"
    )

    assert response.status_code == 200
    [entry] = SessionEvent.objects.filter(session=theirs)
    assert (entry.actor, entry.message) == (admin, f"Console data updated by {admin} via API")


@pytest.mark.parametrize(
    "authorization",
    [
        basic_auth("alice", "wrong-password"),
        basic_auth("nobody"),
        "Basic not-base64!",
        "Basic " + "YWxpY2U=",  # "alice" with no password part
    ],
)
def test_bad_basic_credentials_are_401(anon_api, user, session, authorization):
    before = db_state()

    response = anon_api.post(f"/sessions/{session.id}/hold", HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert error_status(response)["errorCode"] == "Unauthorized"
    assert db_state() == before


def test_an_inactive_user_is_401(account, session):
    inactive = UserFactory(accounts=[account], is_active=False)

    response = api_client_as(inactive).get(f"/sessions/{session.id}")

    assert response.status_code == 401


# --- POST /auth/credentials and the ss-id cookie --------------------------------------------


def sign_in(client, remember_me=True, password="test-password"):
    return client.post(
        "/auth/credentials",
        {"userName": "alice", "password": password, "rememberMe": remember_me},
        format="json",
    )


@pytest.fixture
def cookie_api(user):
    """A client signed in through /auth/credentials, that sends no CSRF token."""
    client = APIClient(enforce_csrf_checks=True)
    assert sign_in(client).status_code == 200
    return client


def test_sign_in_answers_the_user_and_sets_the_ss_id_cookie(anon_api, user, account):
    response = sign_in(anon_api)

    assert response.status_code == 200
    body = response.json()
    assert body["userId"] == user.id
    assert body["userName"] == "alice"
    assert body["roles"] == ["User"]
    assert (body["accountIds"], body["accountNames"]) == ([account.id], ["Acme"])
    cookie = response.cookies[COOKIE]
    assert body["sessionId"] == cookie.value
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["max-age"] == 14 * 24 * 3600
    # Only a hash of the token is kept.
    [row] = ApiAuthSession.objects.all()
    assert (row.user, row.key_hash, row.remember_me) == (user, _hash(cookie.value), True)
    assert cookie.value not in row.key_hash


def test_sign_in_without_remember_me_sets_a_browser_session_cookie(anon_api, user):
    response = sign_in(anon_api, remember_me=False)

    assert response.status_code == 200
    assert response.cookies[COOKIE]["max-age"] == ""
    assert response.cookies["ss-opt"].value == "temp"
    assert ApiAuthSession.objects.get().remember_me is False


def test_sign_in_reads_a_form_body(anon_api, user):
    response = anon_api.post(
        "/auth/credentials",
        "UserName=alice&Password=test-password",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert COOKIE in response.cookies


def test_sign_in_through_the_predefined_route(anon_api, user):
    response = anon_api.post(
        "/api/Authenticate",
        {"provider": "credentials", "userName": "alice", "password": "test-password"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["userName"] == "alice"


@pytest.mark.parametrize("password", ["wrong", ""])
def test_sign_in_with_a_wrong_password_is_401_and_starts_nothing(anon_api, user, password):
    response = sign_in(anon_api, password=password)

    assert response.status_code == 401
    status = error_status(response)
    assert (status["errorCode"], status["message"]) == (
        "Unauthorized",
        "Invalid UserName or Password",
    )
    assert COOKIE not in response.cookies
    assert not ApiAuthSession.objects.exists()


def test_sign_in_with_an_unknown_provider_is_400(anon_api, user):
    response = anon_api.post(
        "/auth",
        {"provider": "facebook", "userName": "alice", "password": "test-password"},
        format="json",
    )

    assert response.status_code == 400
    assert [e["fieldName"] for e in error_status(response)["errors"]] == ["provider"]
    assert not ApiAuthSession.objects.exists()


@pytest.mark.parametrize(
    ("role", "roles"),
    [
        (Role.USER, ["User"]),
        (Role.MANAGER, ["User", "Manager"]),
        (Role.SYSTEM_ADMINISTRATOR, ["User", "Manager", "SystemAdministrator"]),
        (Role.NONE, []),
    ],
)
def test_sign_in_reports_the_implied_roles(anon_api, role, roles):
    UserFactory(username="alice", role=role)

    assert sign_in(anon_api).json()["roles"] == roles


def test_the_cookie_works_without_a_csrf_token(cookie_api, session, user):
    response = cookie_api.patch(f"/sessions/{session.id}", {"consoleData": "hi"}, format="json")

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.console_data == "hi"
    [entry] = SessionEvent.objects.filter(session=session)
    assert (entry.actor, entry.via) == (user, "api")


def test_get_auth_with_the_cookie_answers_the_user(cookie_api, user, account):
    response = cookie_api.get("/auth")

    assert response.status_code == 200
    assert response.json() == {
        "userId": user.id,
        "userName": "alice",
        "displayName": "alice",
        "roles": ["User"],
        "permissions": [],
        "accountIds": [account.id],
        "accountNames": ["Acme"],
    }


def test_get_auth_with_basic_answers_the_user(api, user):
    response = api.get("/auth")

    assert response.status_code == 200
    assert response.json()["userId"] == user.id


def test_get_auth_anonymously_is_401(anon_api):
    response = anon_api.get("/auth")

    assert response.status_code == 401
    assert error_status(response)["errorCode"] == "Unauthorized"


def test_logout_ends_the_cookie_session(cookie_api, session):
    token = cookie_api.cookies[COOKIE].value

    response = cookie_api.post("/auth/logout")

    assert response.status_code == 204
    assert response.cookies[COOKIE].value == ""
    assert not ApiAuthSession.objects.exists()
    # The old token, replayed, no longer works.
    replay = APIClient()
    replay.cookies[COOKIE] = token
    assert replay.get(f"/sessions/{session.id}").status_code == 401
    assert replay.get("/auth").status_code == 401


def test_an_expired_cookie_is_refused(cookie_api, session):
    ApiAuthSession.objects.update(expires=timezone.now() - timedelta(seconds=1))

    response = cookie_api.get(f"/sessions/{session.id}")

    assert response.status_code == 401


def test_the_cookie_of_a_deactivated_user_is_refused(cookie_api, user, session):
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = cookie_api.get(f"/sessions/{session.id}")

    assert response.status_code == 401


def test_the_cookie_stops_working_when_the_password_changes(cookie_api, user, session):
    user.set_password("a-new-password")
    user.save(update_fields=["password"])

    response = cookie_api.get(f"/sessions/{session.id}")

    assert response.status_code == 401
    assert sign_in(APIClient(), password="a-new-password").status_code == 200


def test_a_role_change_counts_on_the_cookies_next_request(cookie_api, user, session):
    assert cookie_api.get(f"/sessions/{session.id}").status_code == 200
    user.role = Role.NONE
    user.save(update_fields=["role"])

    response = cookie_api.get(f"/sessions/{session.id}")

    assert response.status_code == 403
    assert error_status(response)["message"] == "Invalid Role"


def test_the_cookie_session_records_where_it_signed_in_from(user):
    client = APIClient()
    client.post(
        "/auth/credentials",
        {"userName": "alice", "password": "test-password"},
        format="json",
        REMOTE_ADDR="198.51.100.7",
        HTTP_USER_AGENT="evo-client/1.2",
    )

    row = ApiAuthSession.objects.get()
    assert (row.address, row.user_agent, row.last_used) == ("198.51.100.7", "evo-client/1.2", None)
    assert row.public_id and row.public_id not in row.key_hash


def test_a_made_up_cookie_is_refused(anon_api, session, user):
    anon_api.cookies[COOKIE] = "made-up"

    response = anon_api.get(f"/sessions/{session.id}")

    assert response.status_code == 401


# --- the portal's Django session on the API ---------------------------------------------------


@pytest.fixture
def portal_api(user):
    """A client with the portal's Django session (as a page calling the API) and CSRF checks."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/hold", None),
        ("patch", "", {"consoleData": "forged"}),
        ("delete", "", None),
        ("post", "/conference/members", {"destination": "+15557654321"}),
    ],
)
def test_portal_session_without_csrf_token_is_403_for_unsafe_methods(
    portal_api, session, method, path, body
):
    before = db_state()

    response = getattr(portal_api, method)(f"/sessions/{session.id}{path}", body, format="json")

    assert response.status_code == 403
    status = error_status(response)
    assert status["errorCode"] == "Forbidden"
    assert status["message"].startswith("CSRF Failed")
    assert db_state() == before


def test_portal_session_may_read_without_a_csrf_token(portal_api, session):
    response = portal_api.get(f"/sessions/{session.id}")

    assert response.status_code == 200


def test_portal_session_with_the_csrf_token_may_act(portal_api, session):
    token = _get_new_csrf_string()
    portal_api.cookies["csrftoken"] = token

    response = portal_api.patch(
        f"/sessions/{session.id}", {"consoleData": "ok"}, format="json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.console_data == "ok"


@pytest.mark.parametrize(
    "url",
    [
        "/api/EndSession?sessionId={id}",
        "/api/HoldSession?sessionId={id}",
        "/json/reply/PatchSession?sessionId={id}&consoleData=forged",
        "/xml/reply/AddConferenceMember?sessionId={id}&destination=%2B19005550100",
    ],
)
def test_portal_session_cannot_write_through_a_predefined_route_by_get(portal_api, session, url):
    """A cross-site link (a top-level GET carries the SameSite=Lax portal cookie) must not act."""
    before = db_state()

    response = portal_api.get(url.format(id=session.id))

    assert response.status_code == 405
    assert db_state() == before


def test_portal_session_may_read_through_a_predefined_route_by_get(portal_api, session):
    response = portal_api.get(f"/api/GetSession?sessionId={session.id}")

    assert response.status_code == 200


def test_no_client_may_write_through_a_predefined_route_by_get(api, session):
    """Even with Basic auth: a browser replays cached Basic credentials on a cross-site link.
    ServiceStack clients send writes with POST, which still works."""
    before = db_state()

    response = api.get(f"/api/EndSession?sessionId={session.id}")

    assert response.status_code == 405
    assert db_state() == before
    assert api.post("/api/EndSession", {"sessionId": session.id}, format="json").status_code == 200
    session.refresh_from_db()
    assert session.ended is True
