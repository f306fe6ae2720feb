"""A session through its whole life with `TELEPHONY_PROVIDER=twilio`, offline: the services
call the fake Twilio REST API over HTTP, the fake's signed status callbacks come back through
the callback views and the inbox, and the database and events say what happened."""

import pytest

from sessions_app import services
from sessions_app.models import (
    CallState,
    DialState,
    EventKind,
    InboxStatus,
    MemberCallState,
    MemberRole,
    ProviderInboxEntry,
    SessionEvent,
)
from tests.conftest import PUBLIC_BASE_URL, deliver, twilio_post
from tests.factories import CallSessionFactory, EndpointFactory

pytestmark = pytest.mark.django_db


def deliver_all(client, fake) -> list[int]:
    """Deliver every callback the fake has queued, in order; their status codes."""
    return [deliver(client, callback).status_code for callback in fake.take_callbacks()]


def kinds(session) -> list[str]:
    return list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))


def connected_call(fake, account):
    """A caller talking to an agent over a plain call (not in a conference): its session."""
    params = fake.incoming_call(from_="+15550001111", to="+15550002222")
    fake.run_twiml(params["CallSid"], "<Response><Pause/></Response>")
    return CallSessionFactory(
        account=account,
        call_sid=params["CallSid"],
        from_address="+15550001111",
        to_address="+15550002222",
    )


def test_invite_hold_resume_hang_up_and_end_through_the_services(
    twilio, client, api_actor, account
):
    session = connected_call(twilio, account)

    # Invite: the call is moved into a new conference, the invitee dialled into it.
    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="+15557654321"
    )
    session.refresh_from_db()
    conference = twilio.conference_named(f"session-{session.id}")
    assert session.conference_sid == conference.sid
    invitee = session.members.get(identity="+15557654321")
    assert invitee.call_state == MemberCallState.RINGING
    assert twilio.participant(invitee.call_sid)["conference_sid"] == conference.sid

    # Twilio reports: initiated, ringing, answered; the conference: joins.
    twilio.ring(invitee.call_sid)
    twilio.answer(invitee.call_sid)
    assert set(deliver_all(client, twilio)) == {204}
    invitee.refresh_from_db()
    session.refresh_from_db()
    assert invitee.call_state == MemberCallState.CONNECTED
    assert session.dial_state == DialState.NONE

    # Hold and resume the caller: the participant at Twilio, the session here.
    services.session_hold(actor=api_actor, session_id=session.id)
    assert twilio.participant(session.call_sid)["hold"] is True
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    assert session.hold_queue_name == conference.sid
    assert set(deliver_all(client, twilio)) == {204}  # participant-hold: already recorded
    services.session_resume(actor=api_actor, session_id=session.id)
    assert twilio.participant(session.call_sid)["hold"] is False
    assert set(deliver_all(client, twilio)) == {204}
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED

    # Hang up the invitee only; the session goes on.
    services.session_end(actor=api_actor, session_id=session.id, call_sid=invitee.call_sid)
    assert twilio.calls[invitee.call_sid]["status"] == "completed"
    assert set(deliver_all(client, twilio)) == {204}  # leave, completed: already recorded
    invitee.refresh_from_db()
    assert invitee.call_state == MemberCallState.NONE
    session.refresh_from_db()
    assert not session.ended

    # End: the caller's leg is hung up; its conference ends with it.
    services.session_end(actor=api_actor, session_id=session.id)
    assert twilio.calls[session.call_sid]["status"] == "completed"
    assert twilio.conferences[conference.sid].status == "completed"
    assert set(deliver_all(client, twilio)) == {204}
    session.refresh_from_db()
    assert session.ended

    assert kinds(session) == [
        EventKind.MEMBER_INVITED,
        EventKind.MEMBER_ANSWERED,
        EventKind.HELD,
        EventKind.RESUMED,
        EventKind.MEMBER_LEFT,
        EventKind.ENDED,
    ]
    # Every callback is on record; those that changed nothing are ignored, with a reason.
    entries = ProviderInboxEntry.objects.filter(provider="twilio")
    assert entries.filter(status=InboxStatus.PENDING).count() == 0
    applied = entries.filter(status=InboxStatus.APPLIED)
    assert [e.kind for e in applied] == ["answered"]


def test_an_incoming_call_rings_the_agent_and_is_answered_by_them(twilio, client, account):
    endpoint = EndpointFactory(
        account=account,
        name="Front desk",
        kind="number",
        phone_number="+15550002222",
        forward_to="client:agent-7",
    )
    # The number's "call status changes" URL is set, as the README says to.
    twilio.number_status_callback = f"{PUBLIC_BASE_URL}/telephony/twilio/call-status"
    params = twilio.incoming_call(from_="+15550001111", to="+15550002222", caller_name="Ada")
    call_sid = params["CallSid"]

    answer = twilio_post(client, twilio, "/telephony/twilio/voice", params)

    assert answer.status_code == 200, answer.content
    session = account.sessions.get()
    assert (session.call_sid, session.endpoint, session.call_state) == (
        call_sid,
        endpoint,
        CallState.RINGING,
    )
    assert session.from_name == "Ada"
    assert answer["Content-Type"] == "text/xml"
    assert f">session-{session.id}</Conference>" in answer.content.decode()
    agent = session.members.get(role=MemberRole.AGENT)
    assert (agent.identity, agent.display_name, agent.call_state) == (
        "client:agent-7",
        "Front desk",
        MemberCallState.RINGING,
    )
    [create] = twilio.requests_to("POST", "/Participants.json")
    assert create.path.endswith(f"/Conferences/session-{session.id}/Participants.json")
    assert ("To", "client:agent-7") in create.form and ("From", "+15550002222") in create.form

    # Twilio runs the TwiML (the caller waits in the conference), the agent answers.
    twilio.run_twiml(call_sid, answer.content.decode())
    twilio.ring(agent.call_sid)
    twilio.answer(agent.call_sid)
    assert set(deliver_all(client, twilio)) == {204}

    session.refresh_from_db()
    agent.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert session.answered_by_name == "Front desk"
    assert session.conference_sid == twilio.conference_named(f"session-{session.id}").sid
    assert agent.call_state == MemberCallState.CONNECTED
    assert session.members.get(is_original_member=True).call_state == MemberCallState.CONNECTED
    assert kinds(session) == [
        EventKind.SESSION_STARTED,
        EventKind.MEMBER_INVITED,
        EventKind.CONFERENCE_STARTED,
        EventKind.ANSWERED,
    ]

    # The caller hangs up: their conference ends (the agent's leg with it), so does the session.
    twilio.hang_up(call_sid)
    assert set(deliver_all(client, twilio)) == {204}
    session.refresh_from_db()
    agent.refresh_from_db()
    assert agent.call_state == MemberCallState.NONE
    assert session.ended
    assert kinds(session)[-2:] == [EventKind.MEMBER_LEFT, EventKind.ENDED]
    assert SessionEvent.objects.filter(session=session).last().message == (
        "Session ended: the call was hung up (via provider)"
    )


def test_mute_monitor_remove_and_redirect_report_back_through_the_callbacks(
    twilio, client, api_actor, account
):
    """The operations phase 2's API will use, at the provider: what Twilio reports about each
    comes back through the callbacks and the inbox, onto the session."""
    session = connected_call(twilio, account)
    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="+15557654321"
    )
    session.refresh_from_db()
    invitee = session.members.get(identity="+15557654321")
    twilio.answer(invitee.call_sid)
    deliver_all(client, twilio)
    provider = services.get_provider()

    provider.mute(conference_sid=session.conference_sid, call_sid=invitee.call_sid, muted=True)
    assert set(deliver_all(client, twilio)) == {204}
    invitee.refresh_from_db()
    assert invitee.muted is True

    supervisor = provider.monitor(
        conference_sid=session.conference_sid,
        destination="client:supervisor",
        mode="listen",
        agent_call_sid=None,
        from_number="+15550002222",
    )
    twilio.answer(supervisor)
    assert set(deliver_all(client, twilio)) == {204}  # not a member (yet): kept, not applied
    assert ProviderInboxEntry.objects.filter(
        call_sid=supervisor, status=InboxStatus.PENDING
    ).exists()

    provider.remove_participant(conference_sid=session.conference_sid, call_sid=invitee.call_sid)
    assert set(deliver_all(client, twilio)) == {204}
    invitee.refresh_from_db()
    assert invitee.call_state == MemberCallState.NONE
    assert kinds(session)[-2:] == [EventKind.MEMBER_MUTED, EventKind.MEMBER_LEFT]
    assert SessionEvent.objects.filter(session=session).last().message == (
        "+15557654321 left the call (via provider)"
    )

    # A blind transfer moves the caller out of the conference: the session's call goes on.
    provider.redirect(call_sid=session.call_sid, destination="+15559998888", caller_id="+1555")
    assert set(deliver_all(client, twilio)) == {204}
    session.refresh_from_db()
    assert not session.ended
    left = ProviderInboxEntry.objects.get(call_sid=session.call_sid, kind="left")
    assert (left.status, left.note) == (
        InboxStatus.IGNORED,
        "The session's call left the conference",
    )
