"""`services.sessions`: every action on a session, called directly (the API and the portal
call these).

Each test asserts what the action returned or raised, the rows it left, and its event; a refused
action must leave every row exactly as it was (`db_state`), and a provider failure must record
only the failure and what the provider really did (`assert_failure_recorded`).
"""

import pytest

from sessions_app import services
from sessions_app.errors import (
    InvalidState,
    NotSupported,
    SessionEnded,
    SessionNotFound,
    TelephonyFailed,
    ValidationFailed,
)
from sessions_app.models import (
    MAX_CONFERENCE_MEMBERS,
    CallState,
    Channel,
    DialState,
    Direction,
    EventKind,
    HoldReason,
    MemberCallState,
    MemberRole,
    QueueState,
    SessionEvent,
    SessionMember,
    Via,
)
from sessions_app.telephony import TelephonyError
from tests.conftest import assert_failure_recorded, db_state
from tests.factories import CallSessionFactory, SessionMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def log_of(session) -> list[SessionEvent]:
    return list(SessionEvent.objects.filter(session_id=session.id).order_by("seq"))


def members_of(session) -> list[SessionMember]:
    return list(SessionMember.objects.filter(session_id=session.id).order_by("id"))


def held_session(actor, **kwargs):
    """A connected call put on hold through the service, so every hold field is set."""
    session = CallSessionFactory(**kwargs)
    services.session_hold(actor=actor, session_id=session.id, reason=HoldReason.TRANSFERRING)
    session.refresh_from_db()
    return session


# --- hold -------------------------------------------------------------------------------------


def test_hold_puts_the_call_and_its_caller_on_hold(api_actor, session, user):
    services.session_hold(actor=api_actor, session_id=session.id)

    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    assert session.hold_reason == HoldReason.NONE
    assert session.held_by_user_id == user.id
    assert session.hold_queue_name == f"hold-{session.call_sid[-8:]}"
    assert session.held_at is not None
    assert session.last_modified_by == "alice"
    [caller] = members_of(session)
    assert caller.call_state == MemberCallState.HOLD
    [entry] = log_of(session)
    assert entry.message == "Ada Lovelace put on hold by alice via API"
    assert (entry.actor, entry.via) == (user, Via.API)


def test_hold_records_the_reason(api_actor, session):
    services.session_hold(actor=api_actor, session_id=session.id, reason=HoldReason.TRANSFERRING)

    session.refresh_from_db()
    assert session.hold_reason == HoldReason.TRANSFERRING
    [entry] = log_of(session)
    assert entry.message == "Ada Lovelace put on hold (Transferring) by alice via API"


def test_hold_of_a_held_call_changes_nothing_and_logs_nothing(api_actor, account):
    session = held_session(api_actor, account=account)
    before = db_state()

    services.session_hold(actor=api_actor, session_id=session.id)

    assert db_state() == before


def test_hold_of_one_member_by_call_sid_holds_only_that_member(api_actor, session):
    agent = SessionMemberFactory(session=session, display_name="Agent Bob")

    services.session_hold(actor=api_actor, session_id=session.id, call_sid=agent.call_sid)

    states = {m.call_sid: m.call_state for m in members_of(session)}
    assert states == {session.call_sid: MemberCallState.CONNECTED, agent.call_sid: "Hold"}
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    assert log_of(session)[0].message.startswith("Agent Bob put on hold")


def test_hold_rejects_a_call_sid_that_is_not_a_member(api_actor, session):
    before = db_state()

    with pytest.raises(ValidationFailed) as raised:
        services.session_hold(actor=api_actor, session_id=session.id, call_sid="CAnobody")

    assert raised.value.field_errors[0].field == "CallSid"
    assert db_state() == before


def test_hold_of_a_session_without_a_call_sid_asks_for_one(api_actor, account):
    session = CallSessionFactory(account=account, call_sid=None)  # its caller has none either
    before = db_state()

    with pytest.raises(ValidationFailed, match="'CallSid' is required") as raised:
        services.session_hold(actor=api_actor, session_id=session.id)

    assert raised.value.field_errors[0].field == "CallSid"
    assert db_state() == before


@pytest.mark.parametrize("channel", [Channel.CHAT, Channel.FAX])
def test_hold_refuses_a_session_that_is_not_a_call(api_actor, account, channel):
    session = CallSessionFactory(account=account, channel=channel)
    before = db_state()

    with pytest.raises(NotSupported, match=f"A {channel.lower()} session cannot be held"):
        services.session_hold(actor=api_actor, session_id=session.id)

    assert db_state() == before


def test_hold_refuses_a_ringing_call_naming_its_state(api_actor, account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)
    before = db_state()

    with pytest.raises(InvalidState, match="Cannot hold: the call is Ringing"):
        services.session_hold(actor=api_actor, session_id=session.id)

    assert db_state() == before


def test_hold_of_another_accounts_session_is_not_found(api_actor, other_account):
    session = CallSessionFactory(account=other_account)
    before = db_state()

    with pytest.raises(SessionNotFound):
        services.session_hold(actor=api_actor, session_id=session.id)

    assert db_state() == before


def test_hold_provider_failure_records_only_the_failure(api_actor, session, failing_provider):
    failing_provider("hold")
    before = db_state()

    with pytest.raises(TelephonyFailed, match="The provider is down"):
        services.session_hold(actor=api_actor, session_id=session.id)

    assert_failure_recorded(before, action="hold", error="The provider is down")
    assert log_of(session)[-1].message == (
        "Hold failed at the telephony provider: The provider is down by alice via API"
    )


def test_hold_by_the_portal_is_logged_as_the_portal(session, user):
    services.session_hold(actor=services.Actor(user=user, via=Via.PORTAL), session_id=session.id)

    [entry] = log_of(session)
    assert entry.message.endswith("by alice via portal")
    assert entry.via == Via.PORTAL


# --- resume -----------------------------------------------------------------------------------


def test_resume_clears_the_hold_and_reconnects_the_members(api_actor, account, user):
    session = held_session(api_actor, account=account)
    agent = SessionMemberFactory(session=session, call_state=MemberCallState.HOLD)

    services.session_resume(actor=api_actor, session_id=session.id)

    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert session.hold_reason == HoldReason.NONE
    assert session.held_by_user_id is None
    assert session.hold_queue_name is None
    assert session.held_at is None
    assert {m.call_state for m in members_of(session)} == {MemberCallState.CONNECTED}
    assert agent.call_sid in {m.call_sid for m in members_of(session)}
    entry = log_of(session)[-1]
    assert entry.message == "Resumed from hold by alice via API"
    assert (entry.actor, entry.via) == (user, Via.API)


def test_each_held_leg_resumes_from_its_own_hold_queue(api_actor, session, monkeypatch):
    agent = SessionMemberFactory(session=session, display_name="Agent Bob")
    provider = services.get_provider()
    services.session_hold(actor=api_actor, session_id=session.id)
    services.session_hold(actor=api_actor, session_id=session.id, call_sid=agent.call_sid)
    resumed = []
    monkeypatch.setattr(
        provider,
        "resume",
        lambda *, call_sid, queue_name, conference_sid: resumed.append((call_sid, queue_name)),
    )

    services.session_resume(actor=api_actor, session_id=session.id)

    # The simulator names a hold queue after the leg it holds.
    assert resumed == [
        (session.call_sid, f"hold-{session.call_sid[-8:]}"),
        (agent.call_sid, f"hold-{agent.call_sid[-8:]}"),
    ]
    session.refresh_from_db()
    assert session.hold_queue_name is None
    assert set(session.members.values_list("hold_queue_name", flat=True)) == {None}


@pytest.mark.parametrize("state", [CallState.CONNECTED, CallState.RINGING, CallState.PASSIVE])
def test_resume_refuses_a_call_that_is_not_on_hold(api_actor, account, state):
    session = CallSessionFactory(account=account, call_state=state)
    before = db_state()

    with pytest.raises(InvalidState, match=f"Cannot resume: the call is {state}"):
        services.session_resume(actor=api_actor, session_id=session.id)

    assert db_state() == before


def test_resume_provider_failure_records_only_the_failure(api_actor, account, failing_provider):
    session = held_session(api_actor, account=account)
    failing_provider("resume")
    before = db_state()

    with pytest.raises(TelephonyFailed):
        services.session_resume(actor=api_actor, session_id=session.id)

    assert_failure_recorded(before, action="resume", error="The provider is down")


def test_resume_failing_partway_records_the_members_already_resumed(
    api_actor, account, monkeypatch
):
    """Member 1 is resumed, then member 2 fails: the database says exactly that, and the
    call stays on hold (a member still hears hold music)."""
    session = held_session(api_actor, account=account)
    second = SessionMemberFactory(session=session, call_state=MemberCallState.HOLD)

    def resume(*, call_sid, queue_name, conference_sid=None):
        if call_sid == second.call_sid:
            raise TelephonyError("Participant not found")

    monkeypatch.setattr(services.get_provider(), "resume", resume)

    with pytest.raises(TelephonyFailed, match="Participant not found"):
        services.session_resume(actor=api_actor, session_id=session.id)

    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    states = dict(session.members.values_list("call_sid", "call_state"))
    assert states == {session.call_sid: "Connected", second.call_sid: "Hold"}
    event = log_of(session)[-1]
    assert event.kind == EventKind.PROVIDER_FAILED
    assert event.data["done"] == [f"resume {session.call_sid}"]


# --- end --------------------------------------------------------------------------------------


def test_end_disconnects_and_completes_the_session(api_actor, account, user):
    session = held_session(api_actor, account=account, dial_state=DialState.ACTIVE)

    services.session_end(actor=api_actor, session_id=session.id)

    session.refresh_from_db()
    assert session.ended is True
    assert session.call_state == CallState.DISCONNECTED
    assert session.dial_state == DialState.NONE
    assert session.date_completed is not None
    assert session.held_at is None
    entry = log_of(session)[-1]
    assert entry.message == "Session ended by alice via API"
    assert (entry.actor, entry.via) == (user, Via.API)


def test_end_provider_failure_records_only_the_failure(api_actor, session, failing_provider):
    failing_provider("hangup")
    before = db_state()

    with pytest.raises(TelephonyFailed):
        services.session_end(actor=api_actor, session_id=session.id)

    assert_failure_recorded(before, action="end", error="The provider is down")


ACTIONS_ON_ENDED = {
    "end": lambda actor, s: services.session_end(actor=actor, session_id=s.id),
    "hold": lambda actor, s: services.session_hold(actor=actor, session_id=s.id),
    "resume": lambda actor, s: services.session_resume(actor=actor, session_id=s.id),
    "patch console data": lambda actor, s: services.session_patch(
        actor=actor, session_id=s.id, console_data="late"
    ),
    "patch queue state": lambda actor, s: services.session_patch(
        actor=actor, session_id=s.id, queue_state=QueueState.QUEUED
    ),
    "patch call state": lambda actor, s: services.session_patch(
        actor=actor, session_id=s.id, call_state=CallState.CONNECTED
    ),
    "invite": lambda actor, s: services.conference_member_add(
        actor=actor, session_id=s.id, destination="+15551230000"
    ),
    "answer": lambda actor, s: services.session_answer(
        actor=actor, session_id=s.id, answered_by_name="Bob"
    ),
}


@pytest.mark.parametrize("action", ACTIONS_ON_ENDED)
def test_every_action_on_an_ended_session_is_refused(api_actor, session, action):
    services.session_end(actor=api_actor, session_id=session.id)
    before = db_state()

    with pytest.raises(SessionEnded, match="The session has already ended"):
        ACTIONS_ON_ENDED[action](api_actor, session)

    assert db_state() == before


# --- patch ------------------------------------------------------------------------------------


def test_patch_console_data_is_saved_and_logged(api_actor, session, user):
    services.session_patch(actor=api_actor, session_id=session.id, console_data="VIP caller")

    session.refresh_from_db()
    assert session.console_data == "VIP caller"
    [entry] = log_of(session)
    assert entry.message == "Console data updated by alice via API"
    assert (entry.actor, entry.via) == (user, Via.API)


def test_patch_with_the_same_console_data_logs_nothing(api_actor, account):
    session = CallSessionFactory(account=account, console_data="same")
    before = db_state()

    services.session_patch(actor=api_actor, session_id=session.id, console_data="same")

    assert db_state() == before


def test_patch_console_data_to_null_clears_it(api_actor, account):
    session = CallSessionFactory(account=account, console_data="old")

    services.session_patch(actor=api_actor, session_id=session.id, console_data=None)

    session.refresh_from_db()
    assert session.console_data is None
    assert len(log_of(session)) == 1


def test_patch_without_changes_changes_nothing(api_actor, session):
    before = db_state()

    services.session_patch(actor=api_actor, session_id=session.id)

    assert db_state() == before


def test_patch_queue_state_logs_both_states(api_actor, session):
    services.session_patch(actor=api_actor, session_id=session.id, queue_state=QueueState.QUEUED)

    session.refresh_from_db()
    assert session.queue_state == QueueState.QUEUED
    [entry] = log_of(session)
    assert entry.message == "Queue state None -> Queued by alice via API"


def test_patch_to_hold_takes_the_hold_reason(api_actor, session):
    services.session_patch(
        actor=api_actor,
        session_id=session.id,
        call_state=CallState.HOLD,
        hold_reason=HoldReason.TRANSFERRING,
    )

    session.refresh_from_db()
    assert (session.call_state, session.hold_reason) == (CallState.HOLD, "Transferring")
    [entry] = log_of(session)
    assert "put on hold (Transferring)" in entry.message


def test_patch_hold_reason_of_a_held_call_is_logged(api_actor, account):
    session = CallSessionFactory(account=account, call_state=CallState.HOLD)

    services.session_patch(
        actor=api_actor, session_id=session.id, hold_reason=HoldReason.TRANSFERRING
    )

    session.refresh_from_db()
    assert session.hold_reason == HoldReason.TRANSFERRING
    [entry] = log_of(session)
    assert entry.message == "Hold reason set to Transferring by alice via API"


def test_patch_hold_reason_of_a_call_not_on_hold_is_refused(api_actor, session):
    before = db_state()

    with pytest.raises(InvalidState, match="Cannot set a hold reason: the call is Connected"):
        services.session_patch(
            actor=api_actor, session_id=session.id, hold_reason=HoldReason.TRANSFERRING
        )

    assert db_state() == before


def test_patch_is_all_or_nothing(api_actor, session):
    """A refused call-state move also undoes the console data and queue state given with it."""
    before = db_state()

    with pytest.raises(InvalidState):
        services.session_patch(
            actor=api_actor,
            session_id=session.id,
            console_data="lost",
            queue_state=QueueState.QUEUED,
            call_state=CallState.RINGING,
        )

    assert db_state() == before


def test_patch_ringing_to_connected_connects_the_caller(api_actor, account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)

    services.session_patch(actor=api_actor, session_id=session.id, call_state=CallState.CONNECTED)

    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert [m.call_state for m in members_of(session)] == [MemberCallState.CONNECTED]
    [entry] = log_of(session)
    assert entry.message == "Call state Ringing -> Connected by alice via API"


def test_patch_to_disconnected_ends_the_session(api_actor, session):
    services.session_patch(
        actor=api_actor, session_id=session.id, call_state=CallState.DISCONNECTED
    )

    session.refresh_from_db()
    assert (session.ended, session.call_state) == (True, CallState.DISCONNECTED)
    assert session.date_completed is not None
    assert [e.message for e in log_of(session)] == ["Session ended by alice via API"]


# --- conference -------------------------------------------------------------------------------


def test_invite_starts_a_conference_and_adds_a_ringing_member(api_actor, session, user):
    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="+15557654321"
    )

    session.refresh_from_db()
    assert session.conference_sid.startswith("CF")
    assert session.dial_state == DialState.ACTIVE
    caller, invited = members_of(session)
    assert invited.identity == invited.display_name == "+15557654321"
    assert invited.role == MemberRole.TRANSFER
    assert invited.call_state == MemberCallState.RINGING
    assert invited.is_original_member is False
    assert invited.call_sid.startswith("CA") and invited.call_sid != caller.call_sid
    assert session.most_recent_participant_call_sid == invited.call_sid
    [entry] = log_of(session)
    assert entry.message == (
        "Invited +15557654321 to the conference (caller id +15550001000) by alice via API"
    )
    assert (entry.actor, entry.via) == (user, Via.API)


def test_second_invite_reuses_the_conference(api_actor, session):
    services.conference_member_add(actor=api_actor, session_id=session.id, destination="+15551")
    session.refresh_from_db()
    conference_sid = session.conference_sid

    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="sip:bob@example.com"
    )

    session.refresh_from_db()
    assert session.conference_sid == conference_sid
    assert len(members_of(session)) == 3
    assert session.most_recent_participant_call_sid == members_of(session)[-1].call_sid


def test_invite_into_a_held_call_is_allowed(api_actor, account):
    session = held_session(api_actor, account=account)

    services.conference_member_add(actor=api_actor, session_id=session.id, destination="+15552")

    assert len(members_of(session)) == 2


@pytest.mark.parametrize(
    ("direction", "own_number_field"),
    [(Direction.INCOMING, "to_address"), (Direction.OUTGOING, "from_address")],
)
def test_invite_uses_the_sessions_own_number_as_caller_id(
    api_actor, account, direction, own_number_field
):
    session = CallSessionFactory(
        account=account, direction=direction, from_address="+15550000011", to_address="+15550000022"
    )

    services.conference_member_add(actor=api_actor, session_id=session.id, destination="+15553")

    own_number = getattr(session, own_number_field)
    assert f"(caller id {own_number})" in log_of(session)[0].message


def test_invite_uses_the_given_from_number(api_actor, session):
    services.conference_member_add(
        actor=api_actor, session_id=session.id, destination="+15553", from_number="+15559990000"
    )

    assert "(caller id +15559990000)" in log_of(session)[0].message


@pytest.mark.parametrize("from_number", ["5559990000", "+0123", "+1555abc", "sip:a@b.c"])
def test_invite_refuses_a_from_number_that_is_not_e164(api_actor, session, from_number):
    before = db_state()

    with pytest.raises(ValidationFailed) as raised:
        services.conference_member_add(
            actor=api_actor, session_id=session.id, destination="+15553", from_number=from_number
        )

    assert raised.value.field_errors[0].field == "FromNumber"
    assert raised.value.code == "InvalidPhoneNumber"
    assert db_state() == before


def test_invite_needs_a_from_number_when_the_session_has_no_number(api_actor, account):
    session = CallSessionFactory(account=account, to_address="client:desk")
    before = db_state()

    with pytest.raises(ValidationFailed, match="'FromNumber' is required"):
        services.conference_member_add(actor=api_actor, session_id=session.id, destination="+1555")

    assert db_state() == before


@pytest.mark.parametrize(
    "destination",
    [
        "+15557654321",
        "+442071234567",
        "sip:bob@example.com",
        "sips:bob@pbx.example.com:5061",
        "client:agent_7",
        "  +15557654321  ",
    ],
)
def test_invite_accepts_e164_sip_and_client_destinations(api_actor, session, destination):
    services.conference_member_add(actor=api_actor, session_id=session.id, destination=destination)

    assert members_of(session)[-1].identity == destination.strip()


@pytest.mark.parametrize(
    ("destination", "code"),
    [
        ("", "NotEmpty"),
        (None, "NotEmpty"),
        ("   ", "NotEmpty"),
        ("5557654321", "InvalidDestination"),
        ("+0157654321", "InvalidDestination"),
        ("+1555765432109876", "InvalidDestination"),
        ("sip:nobody", "InvalidDestination"),
        ("client:", "InvalidDestination"),
        ("tel:+15557654321", "InvalidDestination"),
        ("<script>alert(1)</script>", "InvalidDestination"),
    ],
)
def test_invite_refuses_a_bad_destination(api_actor, session, destination, code):
    before = db_state()

    with pytest.raises(ValidationFailed) as raised:
        services.conference_member_add(
            actor=api_actor, session_id=session.id, destination=destination
        )

    assert raised.value.code == code
    assert raised.value.field_errors[0].field == "Destination"
    assert db_state() == before


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("+15005550001", "The destination number is not a valid phone number"),
        ("+15005550002", "The destination cannot be reached"),
    ],
)
def test_invite_provider_failure_records_the_conference_it_made(
    api_actor, session, destination, message
):
    before = db_state()

    with pytest.raises(TelephonyFailed, match=message):
        services.conference_member_add(
            actor=api_actor, session_id=session.id, destination=destination
        )

    assert_failure_recorded(
        before,
        action="invite",
        error=message,
        session_changes={"conference_sid": lambda sid: sid.startswith("CF")},
    )


def test_invite_failing_to_start_the_conference_records_only_the_failure(
    api_actor, session, failing_provider
):
    failing_provider("start_conference")
    before = db_state()

    with pytest.raises(TelephonyFailed):
        services.conference_member_add(actor=api_actor, session_id=session.id, destination="+1555")

    assert_failure_recorded(before, action="invite", error="The provider is down")


def test_invite_into_a_session_without_a_call_sid_asks_for_one(api_actor, account):
    session = CallSessionFactory(account=account, call_sid=None)
    before = db_state()

    with pytest.raises(ValidationFailed, match="'CallSid' is required"):
        services.conference_member_add(actor=api_actor, session_id=session.id, destination="+1555")

    assert db_state() == before


@pytest.mark.parametrize("state", [CallState.RINGING, CallState.PASSIVE])
def test_invite_refuses_a_call_that_is_not_up(api_actor, account, state):
    session = CallSessionFactory(account=account, call_state=state)
    before = db_state()

    with pytest.raises(InvalidState, match=f"Cannot invite: the call is {state}"):
        services.conference_member_add(actor=api_actor, session_id=session.id, destination="+1555")

    assert db_state() == before


def test_invite_refuses_to_conference_from_a_member_who_left(api_actor, session):
    gone = SessionMemberFactory(session=session, call_state=MemberCallState.NONE)
    before = db_state()

    with pytest.raises(InvalidState, match="already left the call"):
        services.conference_member_add(
            actor=api_actor, session_id=session.id, destination="+1555", call_sid=gone.call_sid
        )

    assert db_state() == before


def test_invite_refuses_a_full_conference(api_actor, session):
    SessionMemberFactory.create_batch(MAX_CONFERENCE_MEMBERS - 1, session=session)
    before = db_state()

    with pytest.raises(
        InvalidState, match=r"^Cannot invite: the conference is full \(10 members\)$"
    ):
        services.conference_member_add(actor=api_actor, session_id=session.id, destination="+1555")

    assert db_state() == before


def test_invite_refuses_a_chat(api_actor, account):
    session = CallSessionFactory(account=account, channel=Channel.CHAT)
    before = db_state()

    with pytest.raises(NotSupported):
        services.conference_member_add(actor=api_actor, session_id=session.id, destination="+1555")

    assert db_state() == before


# --- a call arrives and is answered --------------------------------------------------------------


def test_session_start_creates_a_ringing_call_with_its_caller(account, user):
    actor = services.Actor(user=None, via=Via.PROVIDER)

    session = services.session_start(
        actor=actor,
        account_id=account.id,
        call_sid="CA0123",
        from_address="+15550001111",
        from_name="Grace",
        to_address="+15550002222",
        queue_state=QueueState.QUEUED,
    )

    session.refresh_from_db()
    assert session.call_state == CallState.RINGING
    assert session.call_sid == "CA0123"
    assert session.created_by == "provider"
    [caller] = members_of(session)
    assert (caller.role, caller.call_state) == (MemberRole.CALLER, MemberCallState.RINGING)
    assert caller.is_original_member and caller.call_sid == session.call_sid
    [entry] = log_of(session)
    assert entry.message == "Incoming voice from +15550001111 to +15550002222"


def test_session_answer_connects_the_caller_and_the_queue(api_actor, account):
    session = CallSessionFactory(
        account=account, call_state=CallState.RINGING, queue_state=QueueState.QUEUED
    )

    services.session_answer(
        actor=api_actor, session_id=session.id, answered_by_name="Bob", answered_by_id="ep-1"
    )

    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert session.queue_state == QueueState.CONNECTED
    assert (session.answered_by_name, session.answered_by_id) == ("Bob", "ep-1")
    assert [m.call_state for m in members_of(session)] == [MemberCallState.CONNECTED]
    assert log_of(session)[-1].message == "Answered by Bob by alice via API"


def test_session_answer_refuses_a_connected_call(api_actor, session):
    before = db_state()

    with pytest.raises(InvalidState, match="Cannot answer: the call is Connected"):
        services.session_answer(actor=api_actor, session_id=session.id, answered_by_name="Bob")

    assert db_state() == before


# --- who may act ------------------------------------------------------------------------------


def test_a_user_without_a_role_finds_no_session(session, account):
    nobody = UserFactory(role="", accounts=[account])
    before = db_state()

    with pytest.raises(SessionNotFound):
        services.session_hold(actor=services.Actor(nobody, Via.API), session_id=session.id)

    assert db_state() == before


def test_a_system_administrator_may_act_on_any_account(other_account):
    session = CallSessionFactory(account=other_account)
    admin = UserFactory(role="SystemAdministrator")

    services.session_hold(actor=services.Actor(admin, Via.API), session_id=session.id)

    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
