"""`services.unit`: the one shape of every write.

Every action records exactly one event (kind, data, actor, via) and the wire's `Log` is those
events in words; a PATCH of three fields is one UPDATE, one event, one notice; the provider is
called with no transaction open and no pooled connection held; a second action waits for the
one in flight or is told what it is; a dead process's claim is taken over.
"""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from sessions_app import services
from sessions_app.errors import ActionInProgress, SessionEnded
from sessions_app.models import (
    ActionInFlight,
    CallState,
    EventKind,
    MemberCallState,
    QueueState,
    SessionEvent,
    Via,
)
from sessions_app.selectors import session_record_for
from sessions_app.telephony.simulated import new_sid
from tests.conftest import db_state, provider_reports
from tests.factories import CallSessionFactory, SessionMemberFactory

ROOT = Path(__file__).resolve().parents[1]


def events_of(session) -> list[SessionEvent]:
    return list(SessionEvent.objects.filter(session_id=session.id).order_by("seq"))


def invited(actor, session, destination="+15557654321"):
    services.conference_member_add(actor=actor, session_id=session.id, destination=destination)
    return session.members.get(identity=destination)


# --- one event per action -----------------------------------------------------------------


def _start(actor, account, session):
    return services.session_start(
        actor=actor,
        account_id=account.id,
        call_sid="CAnew",
        from_address="+15550001111",
        to_address="+15550002222",
    )


def _answer(actor, account, session):
    ringing = CallSessionFactory(account=account, call_state=CallState.RINGING)
    return services.session_answer(actor=actor, session_id=ringing.id, answered_by_name="Bob")


def _hold(actor, account, session):
    return services.session_hold(actor=actor, session_id=session.id, reason="Transferring")


def _resume(actor, account, session):
    held = CallSessionFactory(account=account, call_state=CallState.HOLD, held_at=timezone.now())
    return services.session_resume(actor=actor, session_id=held.id)


def _patch_console(actor, account, session):
    return services.session_patch(actor=actor, session_id=session.id, console_data="ticket 42")


def _patch_queue(actor, account, session):
    return services.session_patch(actor=actor, session_id=session.id, queue_state="Queued")


def _patch_reason(actor, account, session):
    held = CallSessionFactory(account=account, call_state=CallState.HOLD, held_at=timezone.now())
    return services.session_patch(actor=actor, session_id=held.id, hold_reason="Transferring")


def _patch_state(actor, account, session):
    return services.session_patch(actor=actor, session_id=session.id, call_state="Passive")


def _invite(actor, account, session):
    return services.conference_member_add(
        actor=actor, session_id=session.id, destination="+15557654321"
    )


def _end(actor, account, session):
    return services.session_end(actor=actor, session_id=session.id)


def _hang_up_member(actor, account, session):
    member = SessionMemberFactory(session=session, display_name="Agent Bob")
    return services.session_end(actor=actor, session_id=session.id, call_sid=member.call_sid)


ACTIONS = {
    # name: (action, kind, the keys its data must have, the message)
    "start": (
        _start,
        EventKind.SESSION_STARTED,
        {"direction", "channel", "from_address", "to_address", "call_sid"},
        "Incoming voice from +15550001111 to +15550002222",
    ),
    "answer": (
        _answer,
        EventKind.ANSWERED,
        {"changes", "members", "answered_by"},
        "Answered by Bob by alice via API",
    ),
    "hold": (
        _hold,
        EventKind.HELD,
        {"changes", "members", "member", "reason"},
        "Ada Lovelace put on hold (Transferring) by alice via API",
    ),
    "resume": (
        _resume,
        EventKind.RESUMED,
        {"changes", "members"},
        "Resumed from hold by alice via API",
    ),
    "patch console data": (
        _patch_console,
        EventKind.CONSOLE_DATA_CHANGED,
        {"changes"},
        "Console data updated by alice via API",
    ),
    "patch queue state": (
        _patch_queue,
        EventKind.QUEUE_STATE_CHANGED,
        {"changes"},
        "Queue state None -> Queued by alice via API",
    ),
    "patch hold reason": (
        _patch_reason,
        EventKind.HOLD_REASON_CHANGED,
        {"changes"},
        "Hold reason set to Transferring by alice via API",
    ),
    "patch call state": (
        _patch_state,
        EventKind.CALL_STATE_CHANGED,
        {"changes"},
        "Call state Connected -> Passive by alice via API",
    ),
    "invite": (
        _invite,
        EventKind.MEMBER_INVITED,
        {"changes", "destination", "from_number", "member"},
        "Invited +15557654321 to the conference (caller id +15550001000) by alice via API",
    ),
    "end": (_end, EventKind.ENDED, {"changes", "members"}, "Session ended by alice via API"),
    "hang up a member": (
        _hang_up_member,
        EventKind.MEMBER_LEFT,
        {"members", "member", "how"},
        "Agent Bob hung up by alice via API",
    ),
}


@pytest.mark.parametrize("name", ACTIONS)
def test_every_action_records_exactly_one_event(name, api_actor, account, session, user):
    action, kind, data_keys, message = ACTIONS[name]
    before = SessionEvent.objects.count()

    acted_on = action(api_actor, account, session)

    assert SessionEvent.objects.count() == before + 1
    [event] = events_of(acted_on)[-1:]
    assert event.kind == kind
    assert set(event.data) == data_keys
    assert (event.actor, event.actor_name, event.via) == (user, "alice", Via.API)
    assert event.message == message
    # The wire's Log is the events, in words.
    record = session_record_for(user=user, session_id=acted_on.id)
    assert [line["message"] for line in record["log"]] == [e.message for e in events_of(acted_on)]


def test_event_data_holds_each_change_before_and_after(api_actor, session, user):
    services.session_hold(actor=api_actor, session_id=session.id, reason="Transferring")

    [event] = events_of(session)
    changes = event.data["changes"]
    assert changes["call_state"] == ["Connected", "Hold"]
    assert changes["hold_reason"] == ["None", "Transferring"]
    assert changes["held_by_user_id"] == [None, user.id]
    assert changes["hold_queue_name"][0] is None and changes["hold_queue_name"][1]
    assert event.data["members"] == {
        session.call_sid: {
            "call_state": ["Connected", "Hold"],
            "hold_queue_name": [None, changes["hold_queue_name"][1]],
        }
    }


def test_provider_reports_are_events_by_the_provider(api_actor, session):
    member = invited(api_actor, session)

    provider_reports(member.call_sid, "answered")

    event = events_of(session)[-1]
    assert (event.kind, event.actor, event.actor_name, event.via) == (
        EventKind.MEMBER_ANSWERED,
        None,
        "",
        Via.PROVIDER,
    )
    assert event.message == "+15557654321 answered (via provider)"


def test_an_action_that_changes_nothing_records_nothing(api_actor, session):
    services.session_hold(actor=api_actor, session_id=session.id)
    before = db_state()

    services.session_hold(actor=api_actor, session_id=session.id)
    services.session_patch(actor=api_actor, session_id=session.id, queue_state="None")

    assert db_state() == before


# --- one UPDATE, one event, one notice -----------------------------------------------------


def test_a_patch_of_three_fields_is_one_update_one_event_one_notice(
    api_actor, session, django_assert_num_queries, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks() as notices,
        django_assert_num_queries(7) as captured,
    ):
        # 1. SAVEPOINT (in production: BEGIN, not counted; the test runs in a transaction)
        # 2. SELECT ... FOR UPDATE the session, in the user's scope
        # 3. SELECT the claim of an action in flight, if any (none: no waiting)
        # 4. UPDATE the session: the three fields, date_last_modified, last_modified_by
        # 5. SELECT pg_advisory_xact_lock: events commit in the order of their numbers
        # 6. INSERT the event
        # 7. RELEASE SAVEPOINT (in production: COMMIT, then the one NOTIFY)
        services.session_patch(
            actor=api_actor,
            session_id=session.id,
            console_data="VIP",
            queue_state=QueueState.QUEUED,
            call_state=CallState.PASSIVE,
        )

    statements = [query["sql"] for query in captured.captured_queries]
    assert sum(sql.startswith('UPDATE "sessions_app_callsession"') for sql in statements) == 1
    assert len(notices) == 1
    [event] = events_of(session)
    assert event.kind == EventKind.CALL_STATE_CHANGED
    assert event.data["also"] == [EventKind.QUEUE_STATE_CHANGED, EventKind.CONSOLE_DATA_CHANGED]
    assert event.message == (
        "Call state Connected -> Passive; queue state None -> Queued; console data updated "
        "by alice via API"
    )


def test_a_patch_that_holds_is_one_event_after_the_provider_answered(api_actor, session):
    services.session_patch(
        actor=api_actor, session_id=session.id, console_data="note", call_state="Hold"
    )

    [event] = events_of(session)
    assert (event.kind, event.data["also"]) == (EventKind.HELD, [EventKind.CONSOLE_DATA_CHANGED])
    session.refresh_from_db()
    assert (session.call_state, session.console_data) == (CallState.HOLD, "note")


# --- the provider, outside any transaction ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_with_no_transaction_and_no_connection_held(monkeypatch, settings):
    session = CallSessionFactory()
    provider = services.get_provider()
    seen = []
    hold = provider.hold

    def watching_hold(**kwargs):
        seen.append(
            {
                "in_transaction": connection.in_atomic_block,
                "pooled": connection.pool is not None,
                "holds_connection": connection.connection is not None,
                "claimed": ActionInFlight.objects.filter(session=session).exists(),
            }
        )
        return hold(**kwargs)

    monkeypatch.setattr(provider, "hold", watching_hold)

    services.session_hold(actor=services.SYSTEM, session_id=session.id)

    # The claim query above took a connection again; before it, none was held.
    assert seen == [
        {"in_transaction": False, "pooled": True, "holds_connection": False, "claimed": True}
    ]
    assert not ActionInFlight.objects.exists()
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD


def test_a_second_action_is_told_what_is_in_flight(api_actor, session, settings):
    settings.SESSION_ACTION_WAIT_SECONDS = 0
    ActionInFlight.objects.create(
        session=session,
        action="invite",
        actor_name="bob",
        via=Via.PORTAL,
        started_at=timezone.now().replace(hour=14, minute=2, second=11),
    )
    settings.SESSION_ACTION_STALE_SECONDS = 10**9
    before = db_state()

    with pytest.raises(ActionInProgress) as refused:
        services.session_hold(actor=api_actor, session_id=session.id)

    assert str(refused.value) == (
        "Another action is in progress on this session: invite, started by bob via portal "
        "at 14:02:11 UTC"
    )
    assert refused.value.code == "ActionInProgress"
    assert db_state() == before


def test_every_action_waits_for_the_one_in_flight_even_without_a_provider_call(
    api_actor, session, settings
):
    """What an action means can depend on the one in flight (a resume after a hold), so even
    a console-data change waits its turn."""
    settings.SESSION_ACTION_WAIT_SECONDS = 0
    ActionInFlight.objects.create(session=session, action="hold", actor_name="", via=Via.SYSTEM)

    with pytest.raises(ActionInProgress, match="hold, started by the system"):
        services.session_patch(actor=api_actor, session_id=session.id, console_data="x")


def test_a_stale_claim_is_taken_over(api_actor, session, settings):
    settings.SESSION_ACTION_STALE_SECONDS = 60
    ActionInFlight.objects.create(
        session=session,
        action="hold",
        actor_name="crashed",
        via=Via.API,
        started_at=timezone.now() - timedelta(seconds=61),
    )

    services.session_hold(actor=api_actor, session_id=session.id)

    assert not ActionInFlight.objects.exists()
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD


def test_a_bug_at_the_provider_releases_the_claim_and_is_recorded(api_actor, session, monkeypatch):
    def broken_hold(**kwargs):
        raise KeyError("a bug, not a refusal")

    monkeypatch.setattr(services.get_provider(), "hold", broken_hold)

    with pytest.raises(KeyError):
        services.session_hold(actor=api_actor, session_id=session.id)

    assert not ActionInFlight.objects.exists()
    [event] = events_of(session)
    assert (event.kind, event.data["error"]) == (EventKind.PROVIDER_FAILED, "internal error")


def test_a_session_that_ended_while_the_provider_worked_is_not_changed_again(
    api_actor, session, monkeypatch, django_capture_on_commit_callbacks
):
    """The caller hangs up (the provider reports it) while a hold is at the provider: the hold
    is not recorded on the ended session, and the caller is told the session has ended."""
    provider = services.get_provider()
    hold = provider.hold

    def hold_while_the_caller_hangs_up(**kwargs):
        provider_reports(session.call_sid, "completed")
        return hold(**kwargs)

    monkeypatch.setattr(provider, "hold", hold_while_the_caller_hangs_up)

    with pytest.raises(SessionEnded):
        services.session_hold(actor=api_actor, session_id=session.id)

    session.refresh_from_db()
    assert (session.ended, session.held_at) == (True, None)
    assert [e.kind for e in events_of(session)] == [EventKind.ENDED]
    assert not ActionInFlight.objects.exists()


def test_new_calls_get_their_waiting_reports_on_commit(
    api_actor, session, monkeypatch, django_capture_on_commit_callbacks
):
    """The answer to an invite arrives before the invite is recorded: it waits in the inbox,
    and the invite's commit applies it."""
    early_sid = new_sid("CA")
    monkeypatch.setattr(services.get_provider(), "dial_into_conference", lambda **kwargs: early_sid)
    entry = provider_reports(early_sid, "answered")
    assert entry.status == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        services.conference_member_add(
            actor=api_actor, session_id=session.id, destination="+15557654321"
        )

    member = session.members.get(call_sid=early_sid)
    assert member.call_state == MemberCallState.CONNECTED
    entry.refresh_from_db()
    assert entry.status == "applied"


# --- the layers ---------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                package = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
                base = ".".join((*package, base) if base else package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_services_never_import_a_provider_and_providers_never_import_the_services():
    for path in (ROOT / "sessions_app" / "services").glob("*.py"):
        assert not any("telephony.simulated" in name for name in _imports(path)), path
    for path in (ROOT / "sessions_app" / "telephony").glob("*.py"):
        assert not any("services" in name for name in _imports(path)), path
