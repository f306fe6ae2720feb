"""gzip for large answers (`portal.middleware.CompressionMiddleware`): compressed answers
decode to the same bytes; streams, small answers, answers with an ETag and answers carrying a
secret are never compressed; `Vary: Accept-Encoding` wherever the client's choice matters."""

import gzip
import re

import pytest
from asgiref.sync import sync_to_async
from django.http import HttpResponse, StreamingHttpResponse
from django.test import AsyncClient

from portal.middleware import COMPRESS_MIN_BYTES, CompressionMiddleware, accepts_gzip
from sessions_app import rows
from sessions_app.models import Role
from tests.conftest import api_client_as, basic_auth
from tests.factories import (
    AccountFactory,
    CallSessionFactory,
    SessionEventFactory,
    SessionMemberFactory,
    UserFactory,
)

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}
LIST = "/portal/active-sessions"


@pytest.fixture
def busy(account):
    """Enough sessions for answers well past COMPRESS_MIN_BYTES."""
    for _ in range(10):
        session = CallSessionFactory(account=account)
        SessionMemberFactory.create_batch(2, session=session)
        SessionEventFactory.create_batch(3, session=session)


def assert_compressed_copy_of(compressed, plain) -> None:
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    assert int(compressed["Content-Length"]) == len(compressed.content)
    assert len(compressed.content) < len(plain.content)
    assert gzip.decompress(compressed.content) == plain.content
    assert compressed["Content-Type"] == plain["Content-Type"]


@pytest.mark.parametrize("fmt", ["json", "xml", "csv"])
def test_a_large_list_is_compressed_and_decodes_to_the_same_bytes(api, busy, fmt):
    plain = api.get(f"{LIST}.{fmt}")
    compressed = api.get(f"{LIST}.{fmt}", **GZIP)

    assert "Content-Encoding" not in plain and "Accept-Encoding" in plain["Vary"]
    assert len(plain.content) > COMPRESS_MIN_BYTES
    assert_compressed_copy_of(compressed, plain)


def test_the_portal_page_is_compressed_and_shows_every_row(client, user, busy, monkeypatch):
    client.force_login(user)
    moment = 1_800_000_000.0
    monkeypatch.setattr(rows.time, "time", lambda: moment)

    plain = client.get("/")
    compressed = client.get("/", **GZIP)

    assert compressed["Content-Encoding"] == "gzip"
    page = gzip.decompress(compressed.content)
    assert page.count(b'<tr id="session-') == 10
    # The same page but for the CSRF tokens, which Django masks afresh in every response.
    token = re.compile(rb'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]{64}')
    assert token.sub(rb"\1", page) == token.sub(rb"\1", plain.content)


def test_the_same_body_compresses_to_different_lengths(rf):
    body = b"<p>" + b"session " * 2000 + b"</p>"
    middleware = CompressionMiddleware(lambda request: HttpResponse(body))
    lengths = {len(middleware(rf.get("/", HTTP_ACCEPT_ENCODING="gzip")).content) for _ in range(20)}

    assert len(lengths) > 1  # Heal the Breach: a random-length file name in the header


@pytest.mark.parametrize(
    ("header", "compressed"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("br;q=1, *;q=0.1", True),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),
        ("*;q=0", False),
        ("identity", False),
        ("deflate, br", False),
        ("", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header, compressed):
    assert accepts_gzip(header) is compressed


def test_small_answers_are_not_compressed(api, session):
    response = api.get("/auth", **GZIP)

    assert len(response.content) < COMPRESS_MIN_BYTES
    assert "Content-Encoding" not in response


def test_an_answer_with_an_etag_is_not_compressed(api, session):
    SessionMemberFactory.create_batch(8, session=session, display_name="x" * 100)

    response = api.get(f"/sessions/{session.id}", **GZIP)

    assert len(response.content) > COMPRESS_MIN_BYTES
    assert "Content-Encoding" not in response
    assert response["ETag"].startswith('"')  # still strong: If-Match compares it


def test_an_answer_marked_no_store_is_never_compressed(rf):
    # How the app marks an answer carrying a secret (a webhook's, an API session token).
    def view(request):
        response = HttpResponse(b'{"secret":"whsec_..."' + b" " * 5000 + b"}")
        response["Cache-Control"] = "no-store"
        return response

    response = CompressionMiddleware(view)(rf.get("/", HTTP_ACCEPT_ENCODING="gzip"))

    assert "Content-Encoding" not in response and not response.has_header("Vary")


def test_answers_carrying_a_secret_are_marked_no_store(account, api, session):
    manager_api = api_client_as(UserFactory(role=Role.MANAGER, accounts=[account]))
    webhook = manager_api.post("/webhooks", {"url": "https://example.com/hook"}, format="json")
    assert webhook.status_code == 200 and webhook.json()["secret"].startswith("whsec_")
    assert webhook["Cache-Control"] == "no-store"

    replay_key = {"HTTP_IDEMPOTENCY_KEY": "make-it-once"}
    for _ in range(2):  # and again when an Idempotency-Key retry answers the secret again
        again = manager_api.post(
            "/webhooks", {"url": "https://example.com/other"}, format="json", **replay_key
        )
        assert again["Cache-Control"] == "no-store"

    signed_in = api.post(
        "/auth/credentials", {"userName": "alice", "password": "test-password"}, format="json"
    )
    assert signed_in.json()["sessionId"] and signed_in["Cache-Control"] == "no-store"


def test_streamed_answers_are_never_compressed(rf):
    def view(request):
        return StreamingHttpResponse(iter([b"data: x\n\n"] * 1000), content_type="text/plain")

    response = CompressionMiddleware(view)(rf.get("/", HTTP_ACCEPT_ENCODING="gzip"))

    assert "Content-Encoding" not in response


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/event-stream", "/live/events"])
async def test_event_streams_are_never_compressed(settings, path):
    settings.EVENTS_BACKEND = "local"
    user = await sync_to_async(UserFactory)(accounts=[await sync_to_async(AccountFactory)()])
    client = AsyncClient()
    await client.aforce_login(user)
    headers = {"HTTP_ACCEPT_ENCODING": "gzip", "HTTP_AUTHORIZATION": basic_auth(user.username)}

    response = await client.get(path, **headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert "Content-Encoding" not in response
    first = await anext(aiter(response.streaming_content))
    assert (first if isinstance(first, bytes) else first.encode()).startswith((b"retry", b":"))
    await response.streaming_content.aclose()
