"""Twilio's status callbacks, hostile and broken ones included: unsigned, wrongly signed,
tampered, replayed, out of order, for another account, malformed, oversized. Each answers
403, 400 or 413, or is stored and ignored; none is a 500, and none changes a session it should
not."""

import pytest
from twilio.request_validator import RequestValidator

from sessions_app import services
from sessions_app.models import (
    CallState,
    EventKind,
    InboxStatus,
    MemberCallState,
    ProviderInboxEntry,
    SessionEvent,
)
from tests.conftest import PUBLIC_BASE_URL, db_state, deliver, twilio_post
from tests.factories import CallSessionFactory
from tests.twilio_fake import Callback

pytestmark = pytest.mark.django_db

CALL_STATUS = "/telephony/twilio/call-status"
CONFERENCE_STATUS = "/telephony/twilio/conference-status"


@pytest.fixture
def invited(twilio, api_actor, account):
    """A connected session (its call live at Twilio) with an invitee ringing in its
    conference, and the callbacks of the invite delivered: (session, invitee member)."""
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")
    twilio.run_twiml(params["CallSid"], "<Response><Pause/></Response>")
    session = CallSessionFactory(
        account=account, call_sid=params["CallSid"], to_address="+15550002222"
    )
    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="+15557654321"
    )
    return session, session.members.get(identity="+15557654321")


def stored() -> int:
    return ProviderInboxEntry.objects.count()


def answered_callback(twilio, client, invitee) -> Callback:
    """Let the invitee answer; deliver what came before, return the 'answered' callback."""
    twilio.answer(invitee.call_sid)
    callbacks = twilio.take_callbacks()
    [answered] = [c for c in callbacks if c.params.get("CallStatus") == "in-progress"]
    for callback in callbacks:
        if callback is not answered:
            assert deliver(client, callback).status_code == 204
    return answered


# --- who may call -----------------------------------------------------------------------------


def test_an_unsigned_callback_is_refused_and_stores_nothing(twilio, client, invited):
    _, invitee = invited
    callback = answered_callback(twilio, client, invitee)
    before, entries = db_state(), stored()

    response = deliver(client, callback, headers={})

    assert response.status_code == 403
    assert (db_state(), stored()) == (before, entries)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p, h, f: h.update({"X-Twilio-Signature": "bm9wZQ=="}), id="wrong"),
        pytest.param(
            lambda p, h, f: h.update(
                {
                    "X-Twilio-Signature": RequestValidator("another-token").compute_signature(
                        PUBLIC_BASE_URL + CALL_STATUS, p
                    )
                }
            ),
            id="another-token",
        ),
        pytest.param(
            lambda p, h, f: h.update(
                {"X-Twilio-Signature": f.sign(PUBLIC_BASE_URL + CONFERENCE_STATUS, p)}
            ),
            id="signed-for-another-url",
        ),
        pytest.param(lambda p, h, f: p.update({"CallStatus": "completed"}), id="tampered"),
    ],
)
def test_a_wrongly_signed_callback_is_refused_and_stores_nothing(twilio, client, invited, tamper):
    _, invitee = invited
    callback = answered_callback(twilio, client, invitee)
    params, headers = dict(callback.params), dict(callback.headers)
    tamper(params, headers, twilio)
    before, entries = db_state(), stored()

    response = deliver(client, callback, params=params, headers=headers)

    assert response.status_code == 403
    assert (db_state(), stored()) == (before, entries)


def test_a_callback_for_another_account_is_refused_even_signed(twilio, client, invited):
    _, invitee = invited
    callback = answered_callback(twilio, client, invitee)
    params = {**callback.params, "AccountSid": "AC" + "9" * 32}
    before, entries = db_state(), stored()

    response = twilio_post(client, twilio, CALL_STATUS, params)

    assert response.status_code == 403
    assert (db_state(), stored()) == (before, entries)


def test_callbacks_answer_404_unless_twilio_is_the_provider(client, db):
    response = client.post(
        CALL_STATUS, "CallSid=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 404


def test_only_post_is_accepted(twilio, client):
    assert client.get(CALL_STATUS).status_code == 405


# --- applied once, never backwards ---------------------------------------------------------


def test_a_replayed_callback_is_applied_once(twilio, client, invited):
    session, invitee = invited
    callback = answered_callback(twilio, client, invitee)
    assert deliver(client, callback).status_code == 204
    before = db_state()

    # The same delivery again, and again with another idempotency token (the header is not
    # signed): the call and its status are, so it is the same event.
    again = deliver(client, callback)
    other_token = deliver(
        client, callback, headers={**callback.headers, "I-Twilio-Idempotency-Token": "forged"}
    )

    assert (again.status_code, other_token.status_code) == (204, 204)
    assert db_state() == before
    assert (
        ProviderInboxEntry.objects.filter(call_sid=invitee.call_sid, kind="answered").count() == 1
    )


def test_a_late_ringing_after_the_answer_changes_nothing(twilio, client, invited):
    session, invitee = invited
    twilio.ring(invitee.call_sid)
    [ringing] = [c for c in twilio.take_callbacks() if c.params.get("CallStatus") == "ringing"]
    assert deliver(client, answered_callback(twilio, client, invitee)).status_code == 204
    before = db_state()

    assert deliver(client, ringing).status_code == 204

    assert db_state() == before
    invitee.refresh_from_db()
    assert invitee.call_state == MemberCallState.CONNECTED


def test_an_answer_arriving_after_the_hang_up_does_not_bring_the_member_back(
    twilio, client, invited
):
    session, invitee = invited
    answered = answered_callback(twilio, client, invitee)
    twilio.hang_up(invitee.call_sid)
    for callback in twilio.take_callbacks():  # leave, completed
        assert deliver(client, callback).status_code == 204
    before = db_state()

    assert deliver(client, answered).status_code == 204

    assert db_state() == before
    invitee.refresh_from_db()
    assert invitee.call_state == MemberCallState.NONE
    entry = ProviderInboxEntry.objects.get(call_sid=invitee.call_sid, kind="answered")
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "The member is None")


def test_a_callback_after_the_session_ended_is_recorded_and_ignored(twilio, client, invited):
    session, invitee = invited
    answered = answered_callback(twilio, client, invitee)
    services.session_end(actor=services.SYSTEM, session_id=session.id)
    before = db_state()

    assert deliver(client, answered).status_code == 204

    assert db_state() == before
    entry = ProviderInboxEntry.objects.get(call_sid=invitee.call_sid, kind="answered")
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "The session has ended")


def test_a_callback_for_an_unknown_call_is_kept_then_ignored(twilio, client, settings):
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")  # no session
    callback_params = {
        "AccountSid": twilio.account_sid,
        "CallSid": params["CallSid"],
        "CallStatus": "completed",
        "Direction": "inbound",
        "SequenceNumber": "0",
    }
    before = db_state()

    assert twilio_post(client, twilio, CALL_STATUS, callback_params).status_code == 204

    entry = ProviderInboxEntry.objects.get(call_sid=params["CallSid"])
    assert entry.status == InboxStatus.PENDING  # its invite may still be committing
    settings.PROVIDER_INBOX_RETRY_SECONDS = 0  # its retry window is over
    services.inbox_process(call_sids=[params["CallSid"]])
    entry.refresh_from_db()
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "No session has this call")
    assert db_state() == before


def test_a_conference_wide_event_is_recorded_and_ignored(twilio, client, invited):
    session, invitee = invited
    session.refresh_from_db()
    params = {
        "AccountSid": twilio.account_sid,
        "ConferenceSid": session.conference_sid,
        "FriendlyName": f"session-{session.id}",
        "StatusCallbackEvent": "conference-end",
        "SequenceNumber": "9",
    }
    before = db_state()

    assert twilio_post(client, twilio, CONFERENCE_STATUS, params).status_code == 204

    assert db_state() == before
    entry = ProviderInboxEntry.objects.get(call_sid=session.conference_sid)
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "Nothing to do for 'conference-end'")


def test_participant_events_hold_and_mute_the_member(twilio, client, invited):
    session, invitee = invited
    deliver(client, answered_callback(twilio, client, invitee))
    session.refresh_from_db()
    services.get_provider().mute(
        conference_sid=session.conference_sid, call_sid=invitee.call_sid, muted=True
    )
    services.get_provider().hold(call_sid=invitee.call_sid, conference_sid=session.conference_sid)

    assert {deliver(client, c).status_code for c in twilio.take_callbacks()} == {204}

    invitee.refresh_from_db()
    assert (invitee.muted, invitee.call_state) == (True, MemberCallState.HOLD)
    kinds = list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.MEMBER_MUTED, EventKind.MEMBER_HELD]


# --- malformed ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        (CALL_STATUS, {"CallStatus": "completed"}, "CallSid is missing"),
        (
            CALL_STATUS,
            {"CallSid": "CA-not-a-sid", "CallStatus": "completed"},
            "CallSid is malformed",
        ),
        (CALL_STATUS, {"CallSid": "CA" + "1" * 32}, "CallStatus is missing"),
        (CALL_STATUS, {"CallSid": "CA" + "1" * 32, "CallStatus": "x" * 300}, "malformed"),
        (
            CONFERENCE_STATUS,
            {"StatusCallbackEvent": "participant-join"},
            "ConferenceSid is missing",
        ),
        (
            CONFERENCE_STATUS,
            {
                "ConferenceSid": "CF" + "1" * 32,
                "StatusCallbackEvent": "participant-hold",
                "CallSid": "CA" + "1" * 32,
            },
            "SequenceNumber is missing",
        ),
        (
            CONFERENCE_STATUS,
            {
                "ConferenceSid": "CF" + "1" * 32,
                "StatusCallbackEvent": "participant-hold",
                "SequenceNumber": "3",
            },
            "CallSid is missing",
        ),
        (
            "/telephony/twilio/voice",
            {"CallSid": "CA" + "1" * 32, "From": "+15550001111"},
            "To is missing",
        ),
    ],
)
def test_a_signed_but_malformed_callback_is_a_400_and_stores_nothing(
    twilio, client, path, params, reason
):
    before, entries = db_state(), stored()

    response = twilio_post(client, twilio, path, {"AccountSid": twilio.account_sid, **params})

    assert response.status_code == 400
    assert reason in response.content.decode()
    assert (db_state(), stored()) == (before, entries)


def test_a_callback_without_an_account_is_a_400(twilio, client):
    response = twilio_post(client, twilio, CALL_STATUS, {"CallSid": "CA" + "1" * 32})
    assert response.status_code == 400


def test_a_body_that_is_not_a_form_is_a_400(twilio, client):
    response = client.post(CALL_STATUS, {"CallSid": "x"}, content_type="application/json")
    assert response.status_code == 400


def test_an_oversized_callback_is_a_413(twilio, client):
    response = client.post(
        CALL_STATUS, "A=" + "x" * 20000, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413


def test_garbage_never_makes_a_500(twilio, client):
    for body in ["%%%", "CallSid=%ff%fe", "&&&=", "=" * 50, "AccountSid"]:
        for path in (CALL_STATUS, CONFERENCE_STATUS, "/telephony/twilio/voice"):
            response = client.post(path, body, content_type="application/x-www-form-urlencoded")
            assert response.status_code in (400, 403), (path, body, response.status_code)
    assert stored() == 0


def test_the_session_itself_is_untouched_by_refused_callbacks(twilio, client, invited):
    session, _ = invited
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
