"""The Twilio provider against the fake REST API: each operation sends exactly the request
Twilio documents (method, path, form parameters in order, credentials), and the fake's state
shows it did what it should."""

import pytest
from django.conf import settings

from sessions_app.services import get_provider
from sessions_app.telephony import CallStatus, FailureKind, MonitorMode, TelephonyError
from sessions_app.telephony.twilio import TwilioProvider
from tests.conftest import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN

ACCOUNT = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}"
CALL_STATUS = f"{PUBLIC_BASE_URL}/telephony/twilio/call-status"
CONFERENCE_STATUS = f"{PUBLIC_BASE_URL}/telephony/twilio/conference-status"
CALL_EVENTS = [
    ("StatusCallbackEvent", e) for e in ("initiated", "ringing", "answered", "completed")
]
CONFERENCE_EVENTS = [
    ("ConferenceStatusCallbackEvent", e) for e in ("start", "end", "join", "leave", "mute", "hold")
]


@pytest.fixture
def provider(twilio) -> TwilioProvider:
    provider = get_provider()
    assert isinstance(provider, TwilioProvider)
    return provider


def caller_in_conference(fake, provider, name="session-s1") -> tuple[str, str]:
    """A caller who dialled in and whose call joined conference `name`: (call, conference)."""
    call_sid = fake.incoming_call(from_="+15550001111", to="+15550002222")["CallSid"]
    fake.run_twiml(call_sid, provider.conference_twiml(name, wait_for_others=False))
    return call_sid, fake.conference_named(name).sid


def last(fake, method):
    request = fake.requests[-1]
    assert request.method == method
    assert request.auth == (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)
    return request


def test_hold_holds_the_participant_with_hold_music(twilio, provider):
    call_sid, conference_sid = caller_in_conference(twilio, provider)

    result = provider.hold(call_sid=call_sid, conference_sid=conference_sid)

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}/Participants/{call_sid}.json"
    assert request.form == [
        ("Hold", "true"),
        ("HoldUrl", settings.TWILIO_HOLD_MUSIC_URL),
        ("HoldMethod", "GET"),
    ]
    assert twilio.participant(call_sid)["hold"] is True
    assert result.queue_name == conference_sid


def test_resume_takes_the_participant_off_hold(twilio, provider):
    call_sid, conference_sid = caller_in_conference(twilio, provider)
    provider.hold(call_sid=call_sid, conference_sid=conference_sid)

    provider.resume(call_sid=call_sid, queue_name=conference_sid, conference_sid=conference_sid)

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}/Participants/{call_sid}.json"
    assert request.form == [("Hold", "false")]
    assert twilio.participant(call_sid)["hold"] is False


def test_hold_of_a_call_in_no_conference_is_refused_without_a_request(twilio, provider):
    with pytest.raises(TelephonyError, match="not in a conference") as refused:
        provider.hold(call_sid="CA" + "1" * 32, conference_sid=None)

    assert refused.value.kind == FailureKind.INVALID_STATE
    assert twilio.requests == []


def test_start_conference_redirects_the_call_into_it_and_finds_its_sid(twilio, provider):
    call_sid = twilio.incoming_call(from_="+15550001111", to="+15550002222")["CallSid"]
    twilio.run_twiml(call_sid, "<Response><Pause/></Response>")  # answered, talking

    conference_sid = provider.start_conference(call_sid=call_sid, name="session-s1")

    redirect, lookup = twilio.requests
    assert (redirect.method, redirect.path) == ("POST", f"{ACCOUNT}/Calls/{call_sid}.json")
    assert redirect.form == [
        (
            "Twiml",
            '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Conference beep="false" '
            'endConferenceOnExit="true" startConferenceOnEnter="true" '
            f'statusCallback="{CONFERENCE_STATUS}" '
            'statusCallbackEvent="start end join leave mute hold" statusCallbackMethod="POST">'
            "session-s1</Conference></Dial></Response>",
        )
    ]
    assert (lookup.method, lookup.path) == ("GET", f"{ACCOUNT}/Conferences.json")
    assert lookup.query == [
        ("FriendlyName", "session-s1"),
        ("Status", "in-progress"),
        ("PageSize", "1"),
    ]
    assert conference_sid == twilio.conference_named("session-s1").sid
    assert twilio.participant(call_sid)["status"] == "connected"


def test_dial_into_conference_adds_a_participant_with_status_callbacks(twilio, provider):
    _, conference_sid = caller_in_conference(twilio, provider)

    new_call = provider.dial_into_conference(
        conference_sid=conference_sid, destination="+15557654321", from_number="+15550002222"
    )

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}/Participants.json"
    assert request.form == [
        ("From", "+15550002222"),
        ("To", "+15557654321"),
        ("StatusCallback", CALL_STATUS),
        ("StatusCallbackMethod", "POST"),
        *CALL_EVENTS,
        ("StartConferenceOnEnter", "true"),
        ("EndConferenceOnExit", "false"),
        ("ConferenceStatusCallback", CONFERENCE_STATUS),
        ("ConferenceStatusCallbackMethod", "POST"),
        *CONFERENCE_EVENTS,
    ]
    assert twilio.calls[new_call]["to"] == "+15557654321"
    assert twilio.participant(new_call)["conference_sid"] == conference_sid


def test_dial_into_a_conference_not_started_yet_names_it(twilio, provider):
    new_call = provider.dial_into_conference(
        conference_sid=None,
        conference_name="session-s2",
        destination="client:agent-7",
        from_number="+15550002222",
    )

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/session-s2/Participants.json"
    assert ("To", "client:agent-7") in request.form
    assert (
        twilio.participant(new_call)["conference_sid"] == twilio.conference_named("session-s2").sid
    )


def test_hangup_completes_the_call(twilio, provider):
    call_sid, _ = caller_in_conference(twilio, provider)

    provider.hangup(call_sid=call_sid)

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Calls/{call_sid}.json"
    assert request.form == [("Status", "completed")]
    assert twilio.calls[call_sid]["status"] == "completed"


@pytest.mark.parametrize("muted", [True, False])
def test_mute_and_unmute_update_the_participant(twilio, provider, muted):
    call_sid, conference_sid = caller_in_conference(twilio, provider)

    provider.mute(conference_sid=conference_sid, call_sid=call_sid, muted=muted)

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}/Participants/{call_sid}.json"
    assert request.form == [("Muted", "true" if muted else "false")]
    assert twilio.participant(call_sid)["muted"] is muted


def test_remove_participant_deletes_it(twilio, provider):
    _, conference_sid = caller_in_conference(twilio, provider)
    invitee = provider.dial_into_conference(
        conference_sid=conference_sid, destination="+15557654321", from_number="+15550002222"
    )
    twilio.answer(invitee)

    provider.remove_participant(conference_sid=conference_sid, call_sid=invitee)

    request = last(twilio, "DELETE")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}/Participants/{invitee}.json"
    assert request.form == []
    assert twilio.participant(invitee) is None
    assert twilio.calls[invitee]["status"] == "completed"


@pytest.mark.parametrize(
    ("destination", "noun"),
    [
        ("+15557654321", "<Number>+15557654321</Number>"),
        ("sip:desk@pbx.example.test", "<Sip>sip:desk@pbx.example.test</Sip>"),
        ("client:agent-7", "<Client>agent-7</Client>"),
    ],
)
def test_redirect_dials_the_new_destination_with_twiml(twilio, provider, destination, noun):
    call_sid, _ = caller_in_conference(twilio, provider)

    provider.redirect(call_sid=call_sid, destination=destination, caller_id="+15550002222")

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Calls/{call_sid}.json"
    assert request.form == [
        (
            "Twiml",
            '<?xml version="1.0" encoding="UTF-8"?><Response>'
            f'<Dial callerId="+15550002222">{noun}</Dial></Response>',
        )
    ]
    assert twilio.calls[call_sid]["redirected_to"] == destination.removeprefix("client:")
    assert twilio.participant(call_sid) is None  # it left the conference


@pytest.mark.parametrize(
    ("mode", "muted", "coaching"),
    [
        (MonitorMode.LISTEN, True, False),
        (MonitorMode.COACH, False, True),
        (MonitorMode.BARGE, False, False),
    ],
)
def test_monitor_adds_the_supervisor_as_listener_coach_or_full_participant(
    twilio, provider, mode, muted, coaching
):
    agent, conference_sid = caller_in_conference(twilio, provider)

    supervisor = provider.monitor(
        conference_sid=conference_sid,
        destination="client:supervisor",
        mode=mode,
        agent_call_sid=agent,
        from_number="+15550002222",
    )

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}/Participants.json"
    assert request.form == [
        ("From", "+15550002222"),
        ("To", "client:supervisor"),
        ("StatusCallback", CALL_STATUS),
        ("StatusCallbackMethod", "POST"),
        *CALL_EVENTS,
        *([("Muted", "true")] if muted else []),  # listen: hears all, says nothing
        ("Beep", "false"),
        ("StartConferenceOnEnter", "false"),
        ("EndConferenceOnExit", "false"),
        ("ConferenceStatusCallback", CONFERENCE_STATUS),
        ("ConferenceStatusCallbackMethod", "POST"),
        *CONFERENCE_EVENTS,
        *([("Coaching", "true"), ("CallSidToCoach", agent)] if coaching else []),
    ]
    participant = twilio.participant(supervisor)
    assert (participant["muted"], participant["coaching"]) == (muted, coaching)
    assert participant["call_sid_to_coach"] == (agent if coaching else None)


def test_end_conference_completes_it_and_every_leg(twilio, provider):
    caller, conference_sid = caller_in_conference(twilio, provider)

    provider.end_conference(conference_sid=conference_sid)

    request = last(twilio, "POST")
    assert request.path == f"{ACCOUNT}/Conferences/{conference_sid}.json"
    assert request.form == [("Status", "completed")]
    assert twilio.conferences[conference_sid].status == "completed"
    assert twilio.calls[caller]["status"] == "completed"


@pytest.mark.parametrize(
    ("state", "expected"),
    [("live", CallStatus.IN_PROGRESS), ("ended", CallStatus.COMPLETED)],
)
def test_call_status_fetches_the_call(twilio, provider, state, expected):
    call_sid, _ = caller_in_conference(twilio, provider)
    if state == "ended":
        twilio.drop(call_sid)

    assert provider.call_status(call_sid=call_sid) == expected

    request = last(twilio, "GET")
    assert request.path == f"{ACCOUNT}/Calls/{call_sid}.json"
    assert request.query == []


def test_call_status_of_a_call_twilio_never_had_is_unknown(twilio, provider):
    assert provider.call_status(call_sid="CA" + "f" * 32) == CallStatus.UNKNOWN
    assert CallStatus.UNKNOWN.gone


def test_an_api_key_replaces_the_auth_token_for_the_rest_api(twilio, settings):
    settings.TWILIO_API_KEY_SID = "SK" + "1" * 32
    settings.TWILIO_API_KEY_SECRET = "key-secret"
    twilio.api_key = (settings.TWILIO_API_KEY_SID, "key-secret")
    get_provider.cache_clear()

    get_provider().call_status(call_sid="CA" + "f" * 32)

    assert twilio.requests[-1].auth == (settings.TWILIO_API_KEY_SID, "key-secret")
