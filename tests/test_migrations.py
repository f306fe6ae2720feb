"""Migrations 0003 and 0004: yesterday's prose log becomes typed events that read exactly as
the lines did, and rows that break today's invariants are brought in line before the
constraints arrive."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from sessions_app.models import ApiAuthSession

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("sessions_app", "0002_session_events")]

# Every shape the old services wrote, and one line of no known shape.
LOG_LINES = [
    "Incoming voice from +15550001111 to +15550002222",
    "Answered by Bob Agent by alice via API",
    "Ada Lovelace put on hold (Transferring) by alice via API",
    "Ada Lovelace put on hold by alice via portal",
    "Resumed from hold by alice via API",
    "Console data updated by alice via API",
    "Queue state None -> Queued by alice via API",
    "Hold reason set to Transferring by alice via API",
    "Call state Ringing -> Connected by alice via API",
    "Invited +15557654321 to the conference (caller id +15550002222) by alice via portal",
    "+15557654321 answered (via provider)",
    "Session ended by alice via API",
    "Session ended (via system)",
    "Something the old code never wrote",
]


@pytest.fixture
def migrated_back():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()  # every app's: migrating back unapplies webhooks
    executor.migrate(BEFORE)
    yield MigrationExecutor(connection).loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)


def test_log_lines_become_typed_events_that_read_the_same(migrated_back):
    apps = migrated_back
    Account = apps.get_model("sessions_app", "Account")
    CallSession = apps.get_model("sessions_app", "CallSession")
    SessionLogEntry = apps.get_model("sessions_app", "SessionLogEntry")
    User = apps.get_model("sessions_app", "User")
    account = Account.objects.create(id="acc", name="Acme")
    alice = User.objects.create(id="u1", username="alice", role="User")
    session = CallSession.objects.create(id="s1", account=account, call_sid="CA1")
    now = timezone.now()
    for index, line in enumerate(LOG_LINES):
        SessionLogEntry.objects.create(
            session=session,
            date=now.replace(microsecond=index),
            message=line,
            actor=alice if "alice" in line else None,
            via="api" if "via API" in line else "portal" if "portal" in line else "system",
        )

    _migrate_to_latest()

    from sessions_app.models import SessionEvent

    events = list(SessionEvent.objects.filter(session_id="s1").order_by("seq"))
    assert [e.message for e in events] == LOG_LINES
    assert [e.kind for e in events] == [
        "session_started",
        "answered",
        "held",
        "held",
        "resumed",
        "console_data_changed",
        "queue_state_changed",
        "hold_reason_changed",
        "call_state_changed",
        "member_invited",
        "member_answered",
        "ended",
        "ended",
        "note",
    ]
    held = events[2]
    assert (held.actor_id, held.actor_name, held.via) == ("u1", "alice", "api")
    assert held.data == {
        "member": {"call_sid": None, "name": "Ada Lovelace"},
        "reason": "Transferring",
    }
    assert events[10].via == "provider"


def test_rows_that_break_the_new_invariants_are_brought_in_line(migrated_back):
    apps = migrated_back
    Account = apps.get_model("sessions_app", "Account")
    CallSession = apps.get_model("sessions_app", "CallSession")
    SessionMember = apps.get_model("sessions_app", "SessionMember")
    Customer = apps.get_model("sessions_app", "Customer")
    account = Account.objects.create(id="acc", name="Acme")
    # Ended, but still "on hold", with members still on the call and a call SID twice.
    ended = CallSession.objects.create(
        id="s1",
        account=account,
        ended=True,
        call_state="Hold",
        hold_reason="Transferring",
        held_by_user_id="u1",
        hold_queue_name="q",
        held_at=timezone.now(),
        call_sid="CA1",
    )
    SessionMember.objects.create(session=ended, call_state="Hold", call_sid="CA1")
    SessionMember.objects.create(session=ended, call_state="Connected", call_sid="CA1")
    # A sub-customer whose path went stale when its parent was moved.
    top = Customer.objects.create(id="top", account=account, name="Top", path="/top/")
    Customer.objects.create(id="kid", account=account, parent=top, name="Kid", path="/old/kid/")

    _migrate_to_latest()

    from sessions_app.models import CallSession as Session
    from sessions_app.models import Customer as CurrentCustomer

    session = Session.objects.get(pk="s1")
    assert (session.call_state, session.hold_reason, session.held_at) == (
        "Disconnected",
        "None",
        None,
    )
    assert session.date_completed is not None
    assert list(session.members.order_by("id").values_list("call_state", "call_sid")) == [
        ("None", "CA1"),
        ("None", None),
    ]
    assert CurrentCustomer.objects.get(pk="kid").path == "/top/kid/"


def _migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app's, webhooks included


@pytest.fixture
def before_0010():
    """The schema of 0009 (apps as then), migrated forward again afterwards."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [("sessions_app", "0009_session_list_index")]
    executor.migrate(before)
    yield MigrationExecutor(connection).loader.project_state(before).apps
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(latest)


def test_existing_api_sessions_get_a_public_id_each(before_0010):
    """0010: the API sessions page names sessions by a public id; rows from before get one."""
    User = before_0010.get_model("sessions_app", "User")
    OldApiAuthSession = before_0010.get_model("sessions_app", "ApiAuthSession")
    alice = User.objects.create(id="u1", username="alice", role="User")
    for n in range(3):
        OldApiAuthSession.objects.create(key_hash=str(n) * 64, user=alice, expires=timezone.now())

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    ids = list(ApiAuthSession.objects.values_list("public_id", flat=True))
    assert len(ids) == 3 and len(set(ids)) == 3 and all(len(i) == 16 for i in ids)
