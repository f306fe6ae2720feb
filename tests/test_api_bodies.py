"""Request bodies as clients really send them: JSON with no `Content-Type` or as `text/plain`
(ServiceStack's `JsonApiClient`, which so avoids a CORS preflight), and bodies sent with
`Transfer-Encoding: chunked` (no `Content-Length`), which are read, limited and parsed like any
other."""

import httpx
import pytest
from django.conf import global_settings

from sessions_app.models import CallState
from tests.conftest import PASSWORD, basic_auth, db_state, error_status, served
from tests.factories import AccountFactory, CallSessionFactory, UserFactory


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", ""])
def test_json_without_a_json_content_type_is_read_as_json(api, session, content_type):
    response = api.generic(
        "PATCH",
        f"/sessions/{session.id}",
        b'{"ConsoleData": "from JsonApiClient", "CallState": "Hold"}',
        content_type,
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.console_data, session.call_state) == ("from JsonApiClient", CallState.HOLD)


def test_an_empty_body_without_a_content_type_is_an_empty_request(api, session):
    response = api.generic("POST", f"/sessions/{session.id}/hold", b"", "")

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD


def test_malformed_json_sent_as_plain_text_is_400_and_changes_nothing(api, session):
    before = db_state()

    response = api.generic("PATCH", f"/sessions/{session.id}", b'{"ConsoleData": ', "text/plain")

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "SerializationException"
    assert db_state() == before


@pytest.fixture
def served_api(transactional_db, settings):
    """A real server, and Basic credentials it accepts (hashed with its own hashers)."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    account = AccountFactory()
    user = UserFactory(username="chunky", accounts=[account])
    with served(log_name="bodies-server.log") as url:
        yield url, account, {"Authorization": basic_auth(user.username, PASSWORD)}


def chunks(*parts: bytes):
    """A body httpx sends with `Transfer-Encoding: chunked`: it cannot know its length."""
    yield from parts


def test_a_chunked_body_is_read(served_api):
    url, account, auth = served_api
    session = CallSessionFactory(account=account)

    response = httpx.patch(
        f"{url}/sessions/{session.id}",
        content=chunks(b'{"ConsoleData": "sent', b' in chunks"}'),
        headers={**auth, "Content-Type": "application/json", "Accept": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.json()["consoleData"] == "sent in chunks"
    session.refresh_from_db()
    assert session.console_data == "sent in chunks"


def test_a_chunked_body_over_the_limit_is_413_and_changes_nothing(served_api, settings):
    url, account, auth = served_api
    session = CallSessionFactory(account=account)
    before = db_state()
    big = b'{"ConsoleData": "' + b"x" * 70_000 + b'"}'  # over the 64 KiB limit

    response = httpx.patch(
        f"{url}/sessions/{session.id}",
        content=chunks(big[:30_000], big[30_000:]),
        headers={**auth, "Content-Type": "application/json", "Accept": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["responseStatus"]["errorCode"] == "RequestTooLarge"
    assert db_state() == before
