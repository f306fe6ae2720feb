"""Management commands: demo data, users, demo traffic, the provider inbox's retries."""

import random

import pytest
from django.core.management import CommandError, call_command

from sessions_app import simulation
from sessions_app.models import (
    Account,
    CallSession,
    CallState,
    Customer,
    EventKind,
    InboxStatus,
    ProviderInboxEntry,
    Role,
    SessionEvent,
    SessionMember,
    User,
    Via,
)
from tests.factories import CallSessionFactory


def _snapshot():
    return sorted(
        CallSession.objects.values_list(
            "account__name", "from_name", "call_state", "channel", "direction", "customer__name"
        )
    )


def test_seed_demo_creates_accounts_trees_users_and_varied_sessions(db, capsys):
    call_command("seed_demo", accounts=2, sessions_per_account=10, seed=7)
    out = capsys.readouterr().out
    assert "admin" in out and "acme-manager" in out and "demo-password" in out
    assert Account.objects.count() == 2
    assert Customer.objects.filter(parent__isnull=False).exists()
    assert User.objects.get(username="admin").role == Role.SYSTEM_ADMINISTRATOR
    assert User.objects.get(username="acme-agent").accounts.get().name == "Acme Telecom"
    assert CallSession.objects.count() == 20
    states = set(CallSession.objects.values_list("call_state", flat=True))
    assert {CallState.RINGING, CallState.CONNECTED} <= states
    assert SessionMember.objects.count() >= 20 and SessionEvent.objects.count() >= 20


def test_seed_demo_is_deterministic(db):
    call_command("seed_demo", accounts=2, sessions_per_account=6, seed=3)
    first = _snapshot()
    CallSession.objects.all().delete()
    call_command("seed_demo", accounts=2, sessions_per_account=6, seed=3)
    assert _snapshot() == first


def test_seed_demo_twice_adds_nothing(db):
    call_command("seed_demo", accounts=2, sessions_per_account=5)
    counts = (Account.objects.count(), User.objects.count(), CallSession.objects.count())
    call_command("seed_demo", accounts=2, sessions_per_account=5)
    assert (Account.objects.count(), User.objects.count(), CallSession.objects.count()) == counts


def test_seed_demo_if_empty_leaves_existing_data_alone(db, capsys):
    Account.objects.create(name="Existing")
    call_command("seed_demo", if_empty=True)
    assert "already present" in capsys.readouterr().out
    assert Account.objects.count() == 1 and not CallSession.objects.exists()


def test_add_user_creates_then_updates_a_user(db):
    call_command("add_user", "bob", password="s3cret-pass", role="Manager", account=["A", "B"])
    bob = User.objects.get(username="bob")
    assert bob.role == Role.MANAGER and bob.check_password("s3cret-pass")
    assert sorted(bob.accounts.values_list("name", flat=True)) == ["A", "B"]
    call_command("add_user", "bob", password="other-pass", role="User", account=["B"])
    bob.refresh_from_db()
    assert bob.role == Role.USER and bob.check_password("other-pass")
    assert list(bob.accounts.values_list("name", flat=True)) == ["B"]


def test_add_user_rejects_an_unknown_role(db):
    with pytest.raises(CommandError):
        call_command("add_user", "eve", password="x", role="Overlord")
    assert not User.objects.filter(username="eve").exists()


def test_traffic_simulation_moves_calls_through_their_life(db):
    call_command("seed_demo", accounts=1, sessions_per_account=2, seed=1)
    rng = random.Random(5)
    outcomes = [simulation.step(rng) for _ in range(60)]
    kinds = {outcome.split()[0] for outcome in outcomes}
    assert {"new", "answered", "ended"} <= kinds
    assert CallSession.objects.filter(ended=True).exists()
    assert CallSession.objects.count() > 2
    # Answers and hang-ups come from the simulated provider, through the provider inbox.
    applied = ProviderInboxEntry.objects.filter(status=InboxStatus.APPLIED)
    assert {"answered", "completed"} <= set(applied.values_list("kind", flat=True))
    ended_by_caller = SessionEvent.objects.filter(kind=EventKind.ENDED, via=Via.PROVIDER)
    assert ended_by_caller.exists()


@pytest.mark.django_db(transaction=True)  # the loop closes its connection between steps
def test_simulate_traffic_command_runs_a_bounded_number_of_steps(capsys):
    call_command("seed_demo", accounts=1, sessions_per_account=1, seed=1)
    before = SessionEvent.objects.count()
    call_command("simulate_traffic", rate=6000, seed=2, steps=5)
    assert "Simulating traffic" in capsys.readouterr().out
    assert SessionEvent.objects.count() > before


def test_process_inbox_applies_reports_due_for_a_retry(db, capsys):
    session = CallSessionFactory(call_state=CallState.RINGING)
    entry = ProviderInboxEntry.objects.create(
        provider="test", event_id="late-1", call_sid=session.call_sid, kind="answered"
    )

    call_command("process_inbox")

    assert "1 report(s) handled" in capsys.readouterr().out
    entry.refresh_from_db()
    session.refresh_from_db()
    assert (entry.status, session.call_state) == (InboxStatus.APPLIED, CallState.CONNECTED)
