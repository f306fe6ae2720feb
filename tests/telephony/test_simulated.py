"""The simulated provider implements the whole interface, so the demo and the suite run on it:
the new operations succeed, and `call_status` knows which calls it ended (in this process)."""

import pytest

from sessions_app.telephony import CallStatus, MonitorMode, TelephonyError
from sessions_app.telephony.simulated import SimulatedProvider


@pytest.fixture
def provider(settings) -> SimulatedProvider:
    settings.SIMULATED_ANSWER_DELAY = -1
    return SimulatedProvider(report=lambda report: None)


def test_a_call_is_in_progress_until_it_is_hung_up(provider):
    assert provider.call_status(call_sid="CA1") == CallStatus.IN_PROGRESS
    provider.hangup(call_sid="CA1")
    assert provider.call_status(call_sid="CA1") == CallStatus.COMPLETED


def test_removing_a_participant_ends_its_leg(provider):
    provider.remove_participant(conference_sid="CF1", call_sid="CA2")
    assert provider.call_status(call_sid="CA2").gone


def test_ending_a_conference_ends_every_leg_in_it(provider):
    conference = provider.start_conference(call_sid="CA1", name="session-x")
    invitee = provider.dial_into_conference(
        conference_sid=conference, destination="+15557654321", from_number="+15550001111"
    )

    provider.end_conference(conference_sid=conference)

    assert provider.call_status(call_sid="CA1").gone
    assert provider.call_status(call_sid=invitee).gone


def test_a_forgotten_call_is_gone_without_a_report(settings):
    reports = []
    provider = SimulatedProvider(report=reports.append)
    provider.forget_call("CA3")
    assert provider.call_status(call_sid="CA3") == CallStatus.COMPLETED
    assert reports == []


@pytest.mark.parametrize("mode", list(MonitorMode))
def test_monitor_rings_the_supervisor_in(provider, mode):
    call_sid = provider.monitor(
        conference_sid="CF1",
        destination="client:supervisor",
        mode=mode,
        agent_call_sid="CA1",
        from_number="+15550001111",
    )
    assert call_sid.startswith("CA") and len(call_sid) == 34


def test_coaching_needs_the_agent(provider):
    with pytest.raises(TelephonyError, match="agent to coach"):
        provider.monitor(
            conference_sid="CF1",
            destination="client:supervisor",
            mode=MonitorMode.COACH,
            agent_call_sid=None,
            from_number="+15550001111",
        )


def test_mute_and_redirect_succeed_and_failing_numbers_fail(provider):
    provider.mute(conference_sid="CF1", call_sid="CA1", muted=True)
    provider.redirect(call_sid="CA1", destination="+15557654321", caller_id="+15550001111")
    with pytest.raises(TelephonyError):
        provider.redirect(call_sid="CA1", destination="+15005550001", caller_id="+15550001111")


@pytest.mark.parametrize(
    "value", ["simulated", "SIMULATED", "sessions_app.telephony.simulated.SimulatedProvider"]
)
def test_the_provider_is_chosen_by_alias_or_dotted_path(settings, value):
    from sessions_app.telephony import build_provider

    settings.TELEPHONY_PROVIDER = value
    assert isinstance(build_provider(report=lambda report: None), SimulatedProvider)
