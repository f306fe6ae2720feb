import base64
import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import httpx
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.utils import timezone
from rest_framework.test import APIClient

from sessions_app.api.authentication import verified_credentials
from sessions_app.api.operations import OPERATIONS
from sessions_app.documents import forget_kept_documents
from sessions_app.models import (
    AuthFailure,
    CallSession,
    CallState,
    DialState,
    Direction,
    HoldReason,
    MemberCallState,
    MemberRole,
    QueueState,
    SessionEvent,
    SessionMember,
    Via,
)
from sessions_app.rows import forget_kept_rows
from sessions_app.services import Actor, get_provider
from sessions_app.telephony import TelephonyError
from sessions_app.wire.contracts import NS_XSI
from tests.factories import (
    PASSWORD,
    AccountFactory,
    CallSessionFactory,
    CustomerFactory,
    EndpointFactory,
    SessionEventFactory,
    SessionMemberFactory,
    UserFactory,
)
from tests.twilio_fake import Callback, FakeTwilio

ROOT = Path(__file__).resolve().parents[1]
# The time of day in a 409's "since 14:02:11 UTC" (see services.conflicts).
CLOCK = r"\d\d:\d\d:\d\d UTC"


def pytest_configure(config):
    engine = django_settings.DATABASES["default"]["ENGINE"]
    if not engine.endswith("postgresql"):
        raise pytest.UsageError(
            "The tests run on PostgreSQL: set DATABASE_URL (see README, `make test`)."
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def artifacts() -> Path:
    """test-artifacts/ (git-ignored): server logs, screenshots of failures."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def start_server(
    *, log_name: str = "server.log", args: tuple[str, ...] = (), **env: str
) -> tuple[subprocess.Popen, str]:
    """The app as it runs in production (`python -m portal.serve`: uvicorn, the LISTEN/NOTIFY
    channel) in a subprocess on a free loopback port, against the test database; returns the
    process and its URL once it answers. `args` go to portal.serve (`("--simulate-traffic",)`);
    `env` adds or overrides settings (`SIMULATED_PROVIDER_LATENCY="1"`; another database:
    `DATABASE_URL=...` with `EVENTS_BACKEND="local"` unless it is PostgreSQL). Data the server
    must see is created with `transactional_db`, so that it is committed. Its output goes to
    test-artifacts/`log_name`. Stopping it is the caller's (or `served`'s)."""
    port = _free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "portal.settings",  # not the test process's tests.settings
        "DATABASE_URL": _database_url(),
        "DJANGO_DEBUG": "1",
        "EVENTS_BACKEND": "postgres",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "RECONCILE_INTERVAL_SECONDS": "0",  # no pass over the test database unless asked
        **env,
    }
    with open(artifacts() / log_name, "w") as log:  # the child keeps its own copy open
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.serve", *args],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited at start; see test-artifacts/{log_name}")
        try:
            httpx.get(url + "/accounts/login/", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail("the server did not start within 30 s")


@contextmanager
def served(**options) -> Iterator[str]:
    """`start_server(**options)` for the length of a `with` block; yields its URL."""
    process, url = start_server(**options)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # Hashing every Basic-auth password with PBKDF2 would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test starts with no Basic check remembered (an earlier test's users are gone), and
    # no session document or portal row kept in memory (query counts then do not depend on
    # the order the tests run in).
    verified_credentials.clear()
    forget_kept_documents()
    forget_kept_rows()
    # Invited parties never answer on their own; tests make them answer when they want.
    settings.SIMULATED_ANSWER_DELAY = -1
    # WhiteNoise would index every static file (~9k, 30 ms) for each test client's middleware;
    # autorefresh finds a file when it is asked for instead, and serves the same files.
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _no_sign_in_failures(request):
    """Each test that uses the database starts with no failed sign-in counted, so none is
    locked out: lockouts are `AuthFailure` rows, which a test's rollback undoes, but a server
    process a test started commits its own, outside that transaction."""
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            AuthFailure.objects.all().delete()
            return


@pytest.fixture
def password_hashes(monkeypatch):
    """Every password hash run: a check of a stored password (`verify`) or the hash Django
    runs for an unknown username, so that it takes as long (`encode`)."""
    runs = []
    verify, encode = MD5PasswordHasher.verify, MD5PasswordHasher.encode

    def spy_verify(self, password, encoded):
        runs.append("verify")
        return verify(self, password, encoded)

    def spy_encode(self, password, salt):
        runs.append("encode")
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "verify", spy_verify)
    monkeypatch.setattr(MD5PasswordHasher, "encode", spy_encode)
    return runs


def age_failures(seconds: float) -> None:
    """Move every recorded failure `seconds` into the past (time passing, without a sleep)."""
    for failure in AuthFailure.objects.all():
        failure.at -= timedelta(seconds=seconds)
        failure.save(update_fields=["at"])


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


@pytest.fixture
def api_actor(user):
    """`user` acting through the API, as the API views call the services."""
    return Actor(user=user, via=Via.API)


def basic_auth(username: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def api_client_as(user) -> APIClient:
    """An API client authenticated as `user` with HTTP Basic, as Evo Voice clients do."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic_auth(user.username))
    return client


@pytest.fixture
def api(user):
    """An API client authenticated as `user` (alice) with HTTP Basic."""
    return api_client_as(user)


@pytest.fixture
def anon_api(db):
    return APIClient()


@pytest.fixture
def failing_provider(monkeypatch):
    """`failing_provider("hold")`: that method of the configured provider raises TelephonyError."""

    def fail(method: str, message: str = "The provider is down"):
        def raise_error(**kwargs):
            raise TelephonyError(message)

        monkeypatch.setattr(get_provider(), method, raise_error)

    return fail


# --- Twilio, offline: the provider against the fake REST API (tests/twilio_fake.py) -------------

TWILIO_ACCOUNT_SID = "AC" + "0a" * 16
TWILIO_AUTH_TOKEN = "test-auth-token-not-a-secret"
PUBLIC_BASE_URL = "https://voice.example.test"


@pytest.fixture
def twilio_fake():
    """The fake Twilio REST API, serving on loopback for the length of the test."""
    fake = FakeTwilio(account_sid=TWILIO_ACCOUNT_SID, auth_token=TWILIO_AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio(settings, twilio_fake):
    """`TELEPHONY_PROVIDER=twilio`, pointed at the fake (`TWILIO_API_BASE_URL`); yields the
    fake. The process's provider is built afresh with these settings, and again after."""
    settings.TELEPHONY_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = TWILIO_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.TWILIO_API_KEY_SID = settings.TWILIO_API_KEY_SECRET = ""
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    settings.TWILIO_API_BASE_URL = twilio_fake.url
    settings.TWILIO_TIMEOUT_SECONDS = 2.0
    get_provider.cache_clear()
    yield twilio_fake
    get_provider.cache_clear()


def deliver(client, callback: Callback, *, params: dict | None = None, headers=None):
    """POST a callback the fake queued (or one made up from it: other `params`, other
    `headers`) to the app, as Twilio sends it: form-encoded, to its path under
    PUBLIC_BASE_URL."""
    assert callback.url.startswith(PUBLIC_BASE_URL), callback.url
    return client.post(
        callback.url.removeprefix(PUBLIC_BASE_URL),
        urlencode(callback.params if params is None else params),
        content_type="application/x-www-form-urlencoded",
        headers=callback.headers if headers is None else headers,
    )


def twilio_post(client, fake, path: str, params: dict, *, signature: str | None = None):
    """POST `params` to our `path` as Twilio does, signed by the fake (or with `signature`)."""
    signed = fake.sign(PUBLIC_BASE_URL + path, params) if signature is None else signature
    return client.post(
        path,
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signed},
    )


def db_state() -> dict:
    """Every session, member and event row: what a rejected call must leave exactly as it
    was."""
    return {
        "sessions": list(CallSession.objects.order_by("id").values()),
        "members": list(SessionMember.objects.order_by("id").values()),
        "events": list(SessionEvent.objects.order_by("seq").values()),
    }


def assert_failure_recorded(
    before: dict, *, action: str, error: str | None = None, session_changes: dict | None = None
) -> dict:
    """After a provider failure, one new row: a `provider_failed` event naming the action
    (and the error). Sessions and members are as they were, but for `session_changes`: the
    fields the provider really changed before it failed. Returns the event's row."""
    after = db_state()
    known = len(before["events"])
    assert after["events"][:known] == before["events"]
    [event] = after["events"][known:]
    assert event["kind"] == "provider_failed"
    assert event["data"]["action"] == action
    if error is not None:
        assert event["data"]["error"] == error
    assert after["members"] == before["members"]
    for old, new in zip(before["sessions"], after["sessions"], strict=True):
        if old["id"] != event["session_id"]:
            assert new == old
            continue
        # A new version (the failure is in its Log); its fields are as they were, unless the
        # provider did something before it failed.
        assert new["version"] == old["version"] + 1
        if not session_changes:
            assert {**new, "version": old["version"]} == old
        else:
            ignored = {*session_changes, "date_last_modified", "last_modified_by", "version"}
            assert {k: v for k, v in new.items() if k not in ignored} == {
                k: v for k, v in old.items() if k not in ignored
            }
            for name, expected in session_changes.items():
                assert expected(new[name]) if callable(expected) else new[name] == expected
    return event


def provider_reports(call_sid: str, kind: str, **data):
    """The telephony provider reports `kind` ("answered", "completed", ...) for `call_sid`,
    through the inbox, as its status callbacks do. Returns the inbox entry."""
    from sessions_app.services import provider_report_receive
    from sessions_app.telephony import ProviderReport

    return provider_report_receive(
        ProviderReport(
            provider="test", event_id=str(uuid.uuid4()), call_sid=call_sid, kind=kind, data=data
        )
    )


@pytest.fixture
def complete_session(account, user):
    """A session where every SessionInfo member has a value: one breadcrumb customer, an
    endpoint, one log entry and one member with one ApplicationData pair, so that its XML and
    JSON contain every element of the spec's samples."""
    customer = CustomerFactory(account=account, name="Top Customer")
    endpoint = EndpointFactory(account=account, customer=customer, name="Front desk")
    now = timezone.now()
    session = CallSessionFactory(
        account=account,
        customer=customer,
        endpoint=endpoint,
        caller=False,
        dial_state=DialState.ACTIVE,
        queue_state=QueueState.CONNECTED,
        direction=Direction.INCOMING,
        call_state=CallState.HOLD,
        hold_reason=HoldReason.TRANSFERRING,
        date_completed=now,
        from_name="Ada Lovelace",
        answered_by_name="Bob Agent",
        answered_by_id="ep-answered",
        queue_member_id="qm-1",
        outcome="Answered",
        console_data="notes",
        hold_queue_name="hold-queue",
        held_by_user_id=user.id,
        conference_sid="CF0123",
        display_name="Ada Lovelace",
        callback_number="+15550009999",
        from_phone_number="+15550008888",
        most_recent_participant_call_sid="CA0456",
        was_missed=True,
        ring_queue_id="rq-1",
        created_by="alice",
        last_modified_by="alice",
        date_created=now - timedelta(minutes=5),
    )
    SessionEventFactory(session=session, message="Incoming call")
    SessionMemberFactory(
        session=session,
        identity=session.from_address,
        endpoint_id=endpoint.id,
        display_name="Ada Lovelace",
        is_original_member=True,
        avatar_url="https://example.com/ada.png",
        application_data={"crm": "42"},
        call_state=MemberCallState.HOLD,
        role=MemberRole.CALLER,
        call_sid=session.call_sid,
        muted=True,
    )
    return session


# --- the wire, as a client sees it --------------------------------------------------------------

FORMATS = ("json", "xml", "csv")
MEDIA_TYPES = {"json": "application/json", "xml": "application/xml", "csv": "text/csv"}


def encode_request(fmt: str, operation: str, values: dict) -> tuple[str, str]:
    """(body, content type) of the request DTO `operation` with `values` (PascalCase names):
    camelCase JSON, a DataContract XML document like the spec's samples, or a CSV record."""
    if fmt == "json":
        return json.dumps({k[:1].lower() + k[1:]: v for k, v in values.items()}), "application/json"
    if fmt == "xml":
        namespace = OPERATIONS[operation].request.namespace
        members = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in sorted(values.items()))
        return (
            f'<{operation} xmlns:i="{NS_XSI}" xmlns="{namespace}">{members}</{operation}>',
            "application/xml",
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([list(values), list(values.values())])
    return buffer.getvalue(), "text/csv"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_members(element) -> dict:
    return {
        _local(child.tag): None if child.get(f"{{{NS_XSI}}}nil") == "true" else child
        for child in element
    }


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, ElementTree.Element):
        return value.text or "" if len(value) == 0 else value
    return value


def wire_fields(response) -> dict:
    """The response DTO's members as {PascalName: text or None}, in whatever format it came.
    Nested members (lists, objects) are the parsed JSON value or XML element."""
    media = response["Content-Type"].split(";")[0]
    if media == "application/json":
        data = json.loads(response.content)
        return {k[:1].upper() + k[1:]: _scalar(v) for k, v in data.items()}
    if media == "application/xml":
        root = ElementTree.fromstring(response.content)
        return {name: _scalar(value) for name, value in _xml_members(root).items()}
    assert media == "text/csv", media
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    return {k: (v if v != "" else None) for k, v in row.items()}


def wire_sessions(response) -> list[dict]:
    """The SessionInfo records of an AppGetActiveSessionsResult, as `wire_fields` gives them."""
    media = response["Content-Type"].split(";")[0]
    if media == "application/json":
        return [
            {k[:1].upper() + k[1:]: _scalar(v) for k, v in item.items()}
            for item in json.loads(response.content)["sessions"]
        ]
    if media == "application/xml":
        root = ElementTree.fromstring(response.content)
        [sessions] = [child for child in root if _local(child.tag) == "Sessions"]
        return [
            {name: _scalar(value) for name, value in _xml_members(item).items()}
            for item in sessions
        ]
    assert media == "text/csv", media
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in rows]


def error_status(response) -> dict:
    """The `responseStatus` of an error response (JSON, or XML read into the same camelCase
    shape), checked to have ServiceStack's shape."""
    if response["Content-Type"].startswith("application/xml"):
        return _xml_error_status(response.content)
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert list(body) == ["responseStatus"]
    status = body["responseStatus"]
    assert (
        {"errorCode", "message", "errors"}
        <= set(status)
        <= {
            "errorCode",
            "message",
            "stackTrace",
            "meta",
            "errors",
        }
    )
    for error in status["errors"]:
        assert set(error) <= {"errorCode", "fieldName", "message"}
    return status


def _xml_error_status(content: bytes) -> dict:
    ns = "{http://schemas.servicestack.net/types}"
    root = ElementTree.fromstring(content)
    assert root.tag == f"{ns}ErrorResponse"
    [status] = root
    assert [child.tag for child in status] == [
        # ServiceStack's ResponseStatus, in its DataMember order (Meta: null unless it says more)
        f"{ns}{name}"
        for name in ("ErrorCode", "Message", "StackTrace", "Errors", "Meta")
    ]
    errors = []
    for error in status.find(f"{ns}Errors"):
        assert error.tag == f"{ns}ResponseError"
        assert [c.tag for c in error] == [f"{ns}{n}" for n in ("ErrorCode", "FieldName", "Message")]
        errors.append({_local(c.tag)[:1].lower() + _local(c.tag)[1:]: c.text for c in error})
    return {
        "errorCode": status.find(f"{ns}ErrorCode").text,
        "message": status.find(f"{ns}Message").text,
        "errors": errors,
    }


# --- the spec's samples -----------------------------------------------------------------------

SPEC_SAMPLES = ROOT / "tests" / "fixtures" / "spec"


def spec_sample(name: str) -> str:
    """A sample from the Evo Voice spec pages, kept verbatim in tests/fixtures/spec/ (its README
    says which page each comes from)."""
    return (SPEC_SAMPLES / name).read_text().strip()
