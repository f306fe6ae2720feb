"""The `Idempotency-Key` header on writes (`sessions_app/api/idempotency.py`): a retry answers
what the first request answered and acts once; the same key for another request is a 422; a
retry while the first runs is a 409; keys expire."""

import threading
from datetime import timedelta

import httpx
import pytest
from django.conf import global_settings
from django.utils import timezone

from sessions_app.models import CallState, IdempotencyKey, SessionEvent
from sessions_app.services.idempotency import idempotency_key_begin
from tests.conftest import (
    PASSWORD,
    api_client_as,
    basic_auth,
    db_state,
    error_status,
    provider_reports,
    served,
)
from tests.factories import CallSessionFactory, UserFactory


def hold(api, session, key: str | None = "retry-1", **extra):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return api.post(f"/sessions/{session.id}/hold", {"reason": "Transferring"}, **headers, **extra)


def patch_console(api, session, text: str, key: str = "console-1"):
    return api.patch(
        f"/sessions/{session.id}", {"consoleData": text}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_retry_gets_the_first_answer_again_and_acts_once(api, session):
    first = hold(api, session, format="json")
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first
    state = db_state()

    retry = hold(api, session, format="json")

    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert retry["Content-Type"] == first["Content-Type"]
    assert retry["ETag"] == first["ETag"]
    assert db_state() == state  # nothing done twice: one held event, no new version
    assert SessionEvent.objects.filter(session=session, kind="held").count() == 1


def test_the_same_request_through_another_route_or_format_is_the_same_request(api, session):
    first = hold(api, session, format="json")

    retry = api.post(
        "/api/HoldSession",
        f"<HoldSession><SessionId>{session.id}</SessionId><Reason>Transferring</Reason>"
        "</HoldSession>",
        content_type="application/xml",
        HTTP_IDEMPOTENCY_KEY="retry-1",
    )

    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.content == first.content  # the stored answer, in the format it was given


def test_a_quoted_key_is_the_same_key(api, session):
    hold(api, session, key="abc", format="json")

    retry = hold(api, session, key='"abc"', format="json")

    assert retry["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_request_is_422_and_changes_nothing(api, session):
    patch_console(api, session, "first")
    state = db_state()

    response = patch_console(api, session, "second")

    assert response.status_code == 422
    status = error_status(response)
    assert status["errorCode"] == "IdempotencyKeyReused"
    assert "different request" in status["message"]
    assert db_state() == state
    session.refresh_from_db()
    assert session.console_data == "first"


def test_a_retry_while_the_first_is_running_is_409_and_changes_nothing(api, session, user):
    # What the first request does before it acts: claim the key.
    idempotency_key_begin(
        user=user, key="retry-1", fingerprint=_fingerprint("HoldSession", session)
    )
    state = db_state()

    response = hold(api, session, format="json")

    assert response.status_code == 409
    status = error_status(response)
    assert status["errorCode"] == "IdempotencyKeyInUse"
    assert "still being processed" in status["message"]
    assert db_state() == state


def _fingerprint(operation: str, session) -> str:
    from sessions_app.api.idempotency import fingerprint

    return fingerprint(operation, {"SessionId": session.id, "Reason": "Transferring"})


def test_a_claim_left_by_a_dead_request_is_taken_over(api, session, user):
    claim = idempotency_key_begin(
        user=user, key="retry-1", fingerprint=_fingerprint("HoldSession", session)
    )
    IdempotencyKey.objects.filter(pk=claim.pk).update(created=timezone.now() - timedelta(hours=1))

    response = hold(api, session, format="json")

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    stored = IdempotencyKey.objects.get(pk=claim.pk)
    assert stored.completed is not None and stored.response_status == 200


def test_keys_expire(api, session, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    patch_console(api, session, "first")
    api.patch(f"/sessions/{session.id}", {"consoleData": "changed since"}, format="json")
    IdempotencyKey.objects.update(created=timezone.now() - timedelta(hours=24, seconds=1))

    retry = patch_console(api, session, "first")

    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry  # forgotten: the request ran again
    session.refresh_from_db()
    assert session.console_data == "first"
    assert SessionEvent.objects.filter(session=session, kind="console_data_changed").count() == 3


def test_before_expiry_a_retry_does_not_undo_a_later_change(api, session):
    patch_console(api, session, "first")
    api.patch(f"/sessions/{session.id}", {"consoleData": "changed since"}, format="json")
    IdempotencyKey.objects.update(created=timezone.now() - timedelta(hours=23))

    retry = patch_console(api, session, "first")

    assert retry["Idempotent-Replayed"] == "true"
    session.refresh_from_db()
    assert session.console_data == "changed since"


def test_a_refused_write_is_not_stored_so_a_retry_runs_again(api, account):
    ringing = CallSessionFactory(account=account, call_state=CallState.RINGING)
    refused = hold(api, ringing, format="json")
    assert refused.status_code == 409
    assert not IdempotencyKey.objects.exists()
    provider_reports(ringing.call_sid, "answered")

    retry = hold(api, ringing, format="json")

    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry
    ringing.refresh_from_db()
    assert ringing.call_state == CallState.HOLD


def test_a_provider_failure_is_stored_and_replayed(api, session, failing_provider):
    failing_provider("hold")
    first = hold(api, session, format="json")
    assert first.status_code == 502
    state = db_state()

    retry = hold(api, session, format="json")

    assert (retry.status_code, retry["Idempotent-Replayed"]) == (502, "true")
    assert retry.content == first.content
    assert db_state() == state  # the provider was not asked again


def test_keys_belong_to_their_user(api, account, session):
    other = UserFactory(username="bob", accounts=[account])
    hold(api, session, format="json")
    second = CallSessionFactory(account=account)

    response = hold(api_client_as(other), second, format="json")

    assert response.status_code == 200
    assert "Idempotent-Replayed" not in response
    second.refresh_from_db()
    assert second.call_state == CallState.HOLD


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", "a\tb"])
def test_an_invalid_key_is_400_and_changes_nothing(api, session, key):
    state = db_state()

    response = hold(api, session, key=key, format="json")

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "InvalidIdempotencyKey"
    assert status["errors"][0]["fieldName"] == "Idempotency-Key"
    assert db_state() == state


def test_a_key_on_a_read_is_ignored(api, session):
    response = api.get(f"/sessions/{session.id}", HTTP_IDEMPOTENCY_KEY="read-1")

    assert response.status_code == 200
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_act_once(account, settings):
    """Over a real server, with a slow provider: the second request arrives while the first is
    at the provider, and is told so; the call is held once."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # the server's own hashers
    user = UserFactory(username="alice", accounts=[account])
    session = CallSessionFactory(account=account)
    answers = []

    def send(url):
        answers.append(
            httpx.post(
                f"{url}/sessions/{session.id}/hold",
                json={"Reason": "Transferring"},
                headers={
                    "Authorization": basic_auth(user.username, PASSWORD),
                    "Idempotency-Key": "together",
                    "Accept": "application/json",
                },
                timeout=30,
            )
        )

    with served(SIMULATED_PROVIDER_LATENCY="1.0") as url:
        first = threading.Thread(target=send, args=(url,))
        first.start()
        # The first request claims the key before it calls the provider (for a second).
        deadline = timezone.now() + timedelta(seconds=10)
        while not IdempotencyKey.objects.exists() and timezone.now() < deadline:
            threading.Event().wait(0.02)
        send(url)
        first.join()
        send(url)  # once the first is done: its answer
    *together, replay = answers

    assert sorted(a.status_code for a in together) == [200, 409]
    in_use = next(a for a in together if a.status_code == 409)
    assert in_use.json()["responseStatus"]["errorCode"] == "IdempotencyKeyInUse"
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (200, "true")
    assert SessionEvent.objects.filter(session=session, kind="held").count() == 1
