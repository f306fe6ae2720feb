"""`services.reconcile`: sessions whose calls ended at the provider while the report was lost
are ended (or their gone members taken off the call), each with one event via system; live
ones are left exactly as they were. With the simulated provider and with Twilio (the fake)."""

import time
from io import StringIO

import pytest
from django.core.management import call_command

from sessions_app import services
from sessions_app.models import (
    CallSession,
    CallState,
    EventKind,
    MemberCallState,
    SessionEvent,
    Via,
)
from sessions_app.telephony.simulated import SimulatedProvider
from tests.conftest import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, db_state, served
from tests.factories import CallSessionFactory, SessionMemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def simulated():
    provider = services.get_provider()
    assert isinstance(provider, SimulatedProvider)
    return provider


def last_event(session) -> SessionEvent:
    return SessionEvent.objects.filter(session=session).last()


def test_a_session_whose_call_is_gone_is_ended_by_the_system(simulated):
    ghost = CallSessionFactory()
    live = CallSessionFactory()
    simulated.forget_call(ghost.call_sid)
    before = db_state()

    result = services.sessions_reconcile()

    assert (result.checked, result.ended, result.members_left) == (2, [ghost.id], [])
    ghost.refresh_from_db()
    assert ghost.ended and ghost.call_state == CallState.DISCONNECTED
    event = last_event(ghost)
    assert (event.kind, event.via, event.actor_name) == (EventKind.ENDED, Via.SYSTEM, "")
    assert (
        event.message
        == "Session ended: the call had ended at the provider (completed) (via system)"
    )
    after = db_state()
    assert [s for s in after["sessions"] if s["id"] == live.id] == [
        s for s in before["sessions"] if s["id"] == live.id
    ]
    assert len(after["events"]) == len(before["events"]) + 1


def test_nothing_is_recorded_when_every_call_is_live(simulated):
    CallSessionFactory()
    CallSessionFactory(call_state=CallState.HOLD)
    before = db_state()

    result = services.sessions_reconcile()

    assert result.checked == 2 and not result.ended and not result.members_left
    assert db_state() == before


def test_a_member_whose_leg_is_gone_leaves_and_the_session_goes_on(simulated):
    session = CallSessionFactory()
    member = SessionMemberFactory(session=session, call_state=MemberCallState.CONNECTED)
    simulated.forget_call(member.call_sid)

    result = services.sessions_reconcile()

    assert result.members_left == [member.call_sid] and not result.ended
    member.refresh_from_db()
    session.refresh_from_db()
    assert member.call_state == MemberCallState.NONE and not session.ended
    assert last_event(session).kind == EventKind.MEMBER_LEFT


def test_a_session_ended_meanwhile_is_not_ended_twice(simulated, monkeypatch):
    """The caller's hang-up is reported between the provider's answer and the action."""
    from tests.conftest import provider_reports

    ghost = CallSessionFactory()
    simulated.forget_call(ghost.call_sid)
    call_status = simulated.call_status

    def reported_meanwhile(*, call_sid):
        status = call_status(call_sid=call_sid)
        provider_reports(call_sid, "completed")
        return status

    monkeypatch.setattr(simulated, "call_status", reported_meanwhile)

    result = services.sessions_reconcile()

    assert result.ended == []
    assert [e.via for e in SessionEvent.objects.filter(session=ghost, kind=EventKind.ENDED)] == [
        Via.PROVIDER
    ]


def test_the_command_reports_what_it_did(simulated):
    ghost = CallSessionFactory()
    CallSessionFactory()
    simulated.forget_call(ghost.call_sid)
    out = StringIO()

    call_command("reconcile_sessions", stdout=out)

    assert out.getvalue().splitlines() == [
        "2 session(s) checked, 1 ended, 0 member(s) taken off the call, "
        "0 the provider could not tell about",
        f"ended {ghost.id}",
    ]


def twilio_call(fake) -> str:
    params = fake.incoming_call(from_="+15550001111", to="+15550002222")
    fake.run_twiml(params["CallSid"], "<Response><Pause/></Response>")
    return params["CallSid"]


def test_with_twilio_a_dropped_call_and_an_unknown_one_end_their_sessions(twilio):
    dropped = CallSessionFactory(call_sid=twilio_call(twilio))
    live = CallSessionFactory(call_sid=twilio_call(twilio))
    unknown = CallSessionFactory(call_sid="CA" + "e" * 32)  # Twilio never heard of it
    twilio.drop(dropped.call_sid)

    result = services.sessions_reconcile()

    assert sorted(result.ended) == sorted([dropped.id, unknown.id])
    assert CallSession.objects.get(pk=live.id).ended is False
    assert last_event(unknown).data["status"] == "unknown"
    fetched = [r.path.rsplit("/", 1)[-1] for r in twilio.requests_to("GET", "/Calls/")]
    assert sorted(fetched) == sorted(f"{s.call_sid}.json" for s in (dropped, live, unknown))


def test_with_twilio_a_call_it_cannot_tell_about_is_left_alone(twilio):
    session = CallSessionFactory(call_sid=twilio_call(twilio))
    twilio.drop(session.call_sid)
    twilio.fail_next(500, 20500, "Internal Server Error", method="GET", match="/Calls/")
    before = db_state()

    result = services.sessions_reconcile()

    assert (result.errors, result.ended) == (1, [])
    assert db_state() == before


@pytest.mark.django_db(transaction=True)
def test_the_server_reconciles_every_interval(twilio_fake):
    """`python -m portal.serve` with Twilio (the fake, over real HTTP) and
    RECONCILE_INTERVAL_SECONDS: a dropped call's session ends without anyone asking."""
    session = CallSessionFactory(call_sid=twilio_call(twilio_fake))
    twilio_fake.drop(session.call_sid)

    twilio_env = {
        "TELEPHONY_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "PUBLIC_BASE_URL": "https://voice.example.test",
        "TWILIO_API_BASE_URL": twilio_fake.url,
        "RECONCILE_INTERVAL_SECONDS": "0.5",
    }
    with served(log_name="reconcile-server.log", **twilio_env):
        deadline = time.monotonic() + 20
        while not CallSession.objects.get(pk=session.id).ended and time.monotonic() < deadline:
            time.sleep(0.2)

    assert CallSession.objects.get(pk=session.id).ended
    assert last_event(session).via == Via.SYSTEM
