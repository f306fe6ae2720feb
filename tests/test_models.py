"""`models`: the rules beside the transition table, and the invariants the database itself
enforces, so that no code path (admin, shell, a future bug) can store a contradiction."""

import itertools

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from sessions_app.models import (
    CALL_STATE_TRANSITIONS,
    ROLE_ORDER,
    CallState,
    Channel,
    Customer,
    HoldReason,
    Role,
    allowed_actions,
    role_rank,
)
from tests.factories import (
    CallSessionFactory,
    CustomerFactory,
    SessionMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- allowed actions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "state"), list(itertools.product(Channel.values(), CallState.values()))
)
def test_allowed_actions_follow_the_transition_table(channel, state):
    ended = state == CallState.DISCONNECTED
    actions = allowed_actions(channel=channel, call_state=state, ended=ended)

    voice = channel == Channel.VOICE and not ended
    moves = CALL_STATE_TRANSITIONS[state]
    assert actions.hold == (voice and (state == CallState.HOLD or CallState.HOLD in moves))
    assert actions.resume == (voice and state == CallState.HOLD)
    assert actions.invite == (voice and state in {CallState.CONNECTED, CallState.HOLD})
    assert actions.end == (not ended)


def test_an_ended_session_allows_nothing_whatever_its_state_says():
    actions = allowed_actions(channel=Channel.VOICE, call_state=CallState.HOLD, ended=True)

    assert not actions.any


def test_a_session_presents_its_actions(account):
    session = CallSessionFactory(account=account, call_state=CallState.HOLD)

    assert (session.actions.resume, session.actions.invite, session.is_held) == (True,) * 3


# --- roles ----------------------------------------------------------------------------------


def test_each_role_implies_the_ones_before_it(db):
    assert [role_rank(role) for role in (Role.NONE, *ROLE_ORDER)] == [0, 1, 2, 3]
    manager = UserFactory(role=Role.MANAGER)
    assert manager.evo_roles == ["User", "Manager"]
    assert UserFactory(role=Role.NONE, is_superuser=True).evo_roles == list(ROLE_ORDER)


# --- constraints ----------------------------------------------------------------------------


def _violates(constraint: str, write) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        write()
        with connection.cursor() as cursor:  # deferred checks run now, not at the test's end
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_an_ended_session_must_be_disconnected(account):
    session = CallSessionFactory(account=account)

    _violates(
        "session_ended_iff_disconnected",
        lambda: (
            type(session)
            .objects.filter(pk=session.pk)
            .update(ended=True, date_completed=timezone.now())
        ),
    )
    _violates(
        "session_ended_iff_disconnected",
        lambda: type(session).objects.filter(pk=session.pk).update(call_state="Disconnected"),
    )


def test_an_ended_session_is_on_nobodys_hold(account):
    session = CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)

    _violates(
        "session_ended_clears_hold",
        lambda: (
            type(session).objects.filter(pk=session.pk).update(hold_reason=HoldReason.TRANSFERRING)
        ),
    )
    _violates(
        "session_ended_clears_hold",
        lambda: type(session).objects.filter(pk=session.pk).update(held_at=timezone.now()),
    )


def test_a_call_sid_appears_once_per_session(account):
    session = CallSessionFactory(account=account)

    _violates(
        "member_call_sid_once_per_session",
        lambda: SessionMemberFactory(session=session, call_sid=session.call_sid),
    )
    # Another session may have a member on the same call.
    SessionMemberFactory(session=CallSessionFactory(account=account), call_sid=session.call_sid)


def test_a_customer_path_ends_with_its_own_id(account):
    top = CustomerFactory(account=account)

    _violates(
        "customer_path_ends_with_id",
        lambda: Customer.objects.filter(pk=top.pk).update(path="/elsewhere/"),
    )


def test_a_customer_path_follows_its_parent(account):
    top = CustomerFactory(account=account)
    other = CustomerFactory(account=account)
    child = CustomerFactory(account=account, parent=top)

    # Pointing the child at another parent without rewriting its path.
    _violates(
        "customer_path_follows_parent",
        lambda: Customer.objects.filter(pk=child.pk).update(parent=other),
    )
    # Rewriting a parent's path and leaving its sub-customers behind.
    _violates(
        "customer_path_follows_parent",
        lambda: Customer.objects.filter(pk=top.pk).update(path=f"{other.path}{top.id}/"),
    )


def test_a_customer_stays_in_its_parents_account(account, other_account):
    top = CustomerFactory(account=account)
    child = CustomerFactory(account=account, parent=top)

    _violates(
        "customer_path_follows_parent",
        lambda: Customer.objects.filter(pk=child.pk).update(account=other_account),
    )


def test_saving_a_customer_never_changes_its_path(account):
    top = CustomerFactory(account=account)
    other = CustomerFactory(account=account)
    child = CustomerFactory(account=account, parent=top)
    child.parent = other

    _violates("customer_path_follows_parent", child.save)
