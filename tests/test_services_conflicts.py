"""409s that explain themselves (`services/conflicts.py`): each names the state, who put the
session (or member) there and since when, read from the session's events."""

from datetime import timedelta

import pytest

from sessions_app import services
from sessions_app.errors import InvalidState, SessionEnded
from sessions_app.models import (
    MAX_CONFERENCE_MEMBERS,
    CallState,
    EventKind,
    HoldReason,
    SessionEvent,
    Via,
)
from tests.conftest import provider_reports
from tests.factories import CallSessionFactory, SessionMemberFactory, UserFactory


def clock(event: SessionEvent) -> str:
    return f"{event.date:%H:%M:%S} UTC"


def latest(session, kind: str) -> SessionEvent:
    return SessionEvent.objects.filter(session=session, kind=kind).latest("seq")


def test_a_move_from_hold_names_the_reason_the_holder_and_the_time(api_actor, session):
    services.session_hold(actor=api_actor, session_id=session.id, reason=HoldReason.TRANSFERRING)
    held = latest(session, EventKind.HELD)

    with pytest.raises(InvalidState) as refused:
        services.session_patch(actor=api_actor, session_id=session.id, call_state="Ringing")

    assert refused.value.message == (
        "Cannot move the call to Ringing: the call is on hold (Transferring) by alice via API "
        f"since {clock(held)}"
    )


def test_a_state_the_provider_set_is_said_to_be_the_providers(api_actor, account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)
    provider_reports(session.call_sid, "answered")
    answered = latest(session, EventKind.ANSWERED)

    with pytest.raises(InvalidState) as refused:
        services.session_answer(actor=api_actor, session_id=session.id, answered_by_name="Bob")

    assert refused.value.message == (
        f"Cannot answer: the call is Connected by the provider since {clock(answered)}"
    )


def test_an_ended_session_says_who_ended_it_and_when(account, session):
    bob = UserFactory(username="bob", accounts=[account])
    services.session_end(actor=services.Actor(user=bob, via=Via.PORTAL), session_id=session.id)
    ended = latest(session, EventKind.ENDED)

    with pytest.raises(SessionEnded) as refused:
        services.session_hold(actor=services.Actor(user=bob, via=Via.API), session_id=session.id)

    assert refused.value.message == (
        f"The session has already ended (by bob via portal at {clock(ended)})"
    )


def test_a_member_who_left_says_when(api_actor, session):
    member = SessionMemberFactory(session=session, call_sid="CAmember", display_name="Bob")
    provider_reports("CAmember", "completed")
    left = latest(session, EventKind.MEMBER_LEFT)

    with pytest.raises(InvalidState) as refused:
        services.session_end(actor=api_actor, session_id=session.id, call_sid=member.call_sid)

    assert refused.value.message == (
        f"Cannot hang up: that member has already left the call (by the provider at {clock(left)})"
    )


def test_a_state_set_on_an_earlier_day_gives_the_date(api_actor, session):
    services.session_hold(actor=api_actor, session_id=session.id)
    held = latest(session, EventKind.HELD)
    SessionEvent.objects.filter(pk=held.pk).update(date=held.date - timedelta(days=2))
    held.refresh_from_db()

    with pytest.raises(InvalidState) as refused:
        services.session_patch(actor=api_actor, session_id=session.id, call_state="Ringing")

    assert refused.value.message.endswith(f"since {held.date:%Y-%m-%d %H:%M:%S} UTC")


def test_a_full_conference_names_the_last_invite(api_actor, session):
    SessionMemberFactory.create_batch(MAX_CONFERENCE_MEMBERS - 2, session=session)
    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="+15557654321"
    )
    invited = latest(session, EventKind.MEMBER_INVITED)

    with pytest.raises(InvalidState) as refused:
        services.conference_member_add(
            actor=api_actor, session_id=session.id, destination="+15557654322"
        )

    assert refused.value.message == (
        f"Cannot invite: the conference is full ({MAX_CONFERENCE_MEMBERS} members), "
        f"the last one invited by alice via API at {clock(invited)}"
    )
