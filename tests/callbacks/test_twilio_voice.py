"""Twilio's Voice URL (`/telephony/twilio/voice`): a call to one of our numbers becomes a
ringing session whose agent is rung into its conference; a number nobody routes is refused
and recorded; a redelivered request makes nothing twice."""

import pytest

from sessions_app.models import (
    CallSession,
    EventKind,
    InboxStatus,
    MemberRole,
    ProviderInboxEntry,
    SessionEvent,
)
from tests.conftest import PUBLIC_BASE_URL, twilio_post
from tests.factories import EndpointFactory

pytestmark = pytest.mark.django_db

VOICE = "/telephony/twilio/voice"
REJECT = '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="rejected" /></Response>'
UNAVAILABLE = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Sorry, nobody can take your call '
    "right now. Please call again later.</Say><Hangup /></Response>"
)


@pytest.fixture
def front_desk(account):
    return EndpointFactory(
        account=account,
        name="Front desk",
        kind="number",
        phone_number="+15550002222",
        forward_to="+15553334444",
    )


def test_the_caller_waits_in_the_sessions_conference(twilio, client, front_desk, settings):
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")

    answer = twilio_post(client, twilio, VOICE, params)

    session = CallSession.objects.get(call_sid=params["CallSid"])
    assert answer.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Conference beep="false" '
        'endConferenceOnExit="true" startConferenceOnEnter="false" '
        f'statusCallback="{PUBLIC_BASE_URL}/telephony/twilio/conference-status" '
        'statusCallbackEvent="start end join leave mute hold" statusCallbackMethod="POST" '
        f'waitMethod="GET" waitUrl="{settings.TWILIO_HOLD_MUSIC_URL}">session-{session.id}'
        "</Conference></Dial></Response>"
    )
    assert (session.account_id, session.endpoint_id, session.customer_id) == (
        front_desk.account_id,
        front_desk.id,
        front_desk.customer_id,
    )
    [agent] = session.members.filter(role=MemberRole.AGENT)
    assert (agent.identity, agent.endpoint_id) == ("+15553334444", front_desk.id)
    assert agent.call_sid in twilio.calls


def test_a_redelivered_request_makes_no_second_session_and_rings_nobody_again(
    twilio, client, front_desk
):
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")
    first = twilio_post(client, twilio, VOICE, params)

    again = twilio_post(client, twilio, VOICE, params)

    assert again.content == first.content
    assert CallSession.objects.filter(call_sid=params["CallSid"]).count() == 1
    assert len(twilio.requests_to("POST", "/Participants.json")) == 1


def test_a_number_nobody_has_is_rejected_and_recorded(twilio, client, front_desk):
    params = twilio.incoming_call(from_="+15550001111", to="+15559990000")

    answer = twilio_post(client, twilio, VOICE, params)

    assert answer.content.decode() == REJECT
    assert not CallSession.objects.exists()
    entry = ProviderInboxEntry.objects.get(call_sid=params["CallSid"])
    assert (entry.status, entry.note) == (
        InboxStatus.IGNORED,
        "No endpoint has the number +15559990000",
    )


def test_a_number_that_rings_nobody_apologises_and_is_recorded(twilio, client, front_desk):
    front_desk.forward_to = ""
    front_desk.save()
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")

    answer = twilio_post(client, twilio, VOICE, params)

    assert answer.content.decode() == UNAVAILABLE
    assert not CallSession.objects.exists()
    entry = ProviderInboxEntry.objects.get(call_sid=params["CallSid"])
    assert entry.status == InboxStatus.IGNORED
    assert "rings nobody" in entry.note


def test_an_agent_twilio_cannot_ring_is_recorded_and_the_caller_told(twilio, client, front_desk):
    twilio.fail_next(
        400,
        21211,
        "The 'To' number +15553334444 is not a valid phone number.",
        method="POST",
        match="/Participants.json",
    )
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")

    answer = twilio_post(client, twilio, VOICE, params)

    assert answer.content.decode() == UNAVAILABLE
    session = CallSession.objects.get(call_sid=params["CallSid"])
    event = SessionEvent.objects.filter(session=session).last()
    assert event.kind == EventKind.PROVIDER_FAILED
    assert event.data["error"] == (
        "The 'To' number +15553334444 is not a valid phone number (Twilio error 21211)"
    )
    assert not session.members.filter(role=MemberRole.AGENT).exists()


def test_an_unsigned_incoming_call_makes_nothing(twilio, client, front_desk):
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")

    answer = twilio_post(client, twilio, VOICE, params, signature="")

    assert answer.status_code == 403
    assert not CallSession.objects.exists()
    assert not ProviderInboxEntry.objects.exists()
    assert twilio.requests == []


@pytest.mark.django_db(transaction=True)
def test_deliveries_of_one_call_arriving_together_make_one_session(twilio, front_desk):
    """Twilio may retry the Voice URL while the first request is still at work: the deliveries
    queue on the call, and only the first makes a session and rings the agent."""
    from django.test import Client

    from tests.test_concurrency import run_in_threads

    params = twilio.incoming_call(from_="+15550001111", to="+15550002222")

    answers = run_in_threads(lambda _: twilio_post(Client(), twilio, VOICE, params).content, 4)

    assert len(set(answers)) == 1
    assert CallSession.objects.filter(call_sid=params["CallSid"]).count() == 1
    assert len(twilio.requests_to("POST", "/Participants.json")) == 1
