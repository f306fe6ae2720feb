"""`services.inbox`: everything the telephony provider reports comes in on one path.

Reports are stored first, de-duplicated by the provider's event id, applied exactly once, in
arrival order per session, through the action unit; a report that would move a session
backwards is ignored with a note; a report about a call not known yet waits for it (and is
given up after the retry window).
"""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sessions_app import services
from sessions_app.models import (
    CallState,
    DialState,
    EventKind,
    InboxStatus,
    MemberCallState,
    ProviderInboxEntry,
    QueueState,
    SessionEvent,
)
from sessions_app.telephony import ProviderReport
from sessions_app.telephony.simulated import new_sid
from tests.conftest import db_state, provider_reports
from tests.factories import CallSessionFactory, EndpointFactory

pytestmark = pytest.mark.django_db


def kinds_of(session) -> list[str]:
    return list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))


def invite(actor, session, destination="+15557654321"):
    services.conference_member_add(actor=actor, session_id=session.id, destination=destination)
    return session.members.get(identity=destination)


# --- invited members ---------------------------------------------------------------------


def test_an_answer_connects_the_member_and_ends_dialing(api_actor, session):
    member = invite(api_actor, session)

    entry = provider_reports(member.call_sid, "answered")

    member.refresh_from_db()
    session.refresh_from_db()
    assert member.call_state == MemberCallState.CONNECTED
    assert session.dial_state == DialState.NONE
    assert (entry.status, entry.session_id) == (InboxStatus.APPLIED, session.id)
    assert entry.session_event.kind == EventKind.MEMBER_ANSWERED
    assert entry.session_event.message == "+15557654321 answered (via provider)"


def test_dialing_stays_active_while_another_member_rings(api_actor, session):
    first = invite(api_actor, session, "+15551110000")
    second = invite(api_actor, session, "+15552220000")

    provider_reports(first.call_sid, "answered")
    session.refresh_from_db()
    assert session.dial_state == DialState.ACTIVE

    provider_reports(second.call_sid, "answered")
    session.refresh_from_db()
    assert session.dial_state == DialState.NONE


def test_a_redelivered_report_is_applied_once(api_actor, session):
    member = invite(api_actor, session)
    report = ProviderReport(
        provider="test", event_id="evt-1", call_sid=member.call_sid, kind="answered"
    )
    services.provider_report_receive(report)
    before = db_state()

    again = services.provider_report_receive(report)

    assert db_state() == before
    assert again.status == InboxStatus.APPLIED
    assert ProviderInboxEntry.objects.filter(event_id="evt-1").count() == 1


def test_a_second_answer_is_ignored_with_a_note(api_actor, session):
    member = invite(api_actor, session)
    provider_reports(member.call_sid, "answered")
    before = db_state()

    entry = provider_reports(member.call_sid, "answered")

    assert db_state() == before
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "The member is Connected")


def test_an_answer_after_the_hang_up_does_not_bring_the_member_back(api_actor, session):
    member = invite(api_actor, session)
    provider_reports(member.call_sid, "answered")
    provider_reports(member.call_sid, "completed")

    late = provider_reports(member.call_sid, "answered")

    member.refresh_from_db()
    assert member.call_state == MemberCallState.NONE
    assert late.status == InboxStatus.IGNORED
    assert kinds_of(session)[-2:] == [EventKind.MEMBER_ANSWERED, EventKind.MEMBER_LEFT]


def test_a_member_who_never_answers_leaves_and_dialing_stops(api_actor, session):
    member = invite(api_actor, session)

    provider_reports(member.call_sid, "failed", status="no-answer")

    member.refresh_from_db()
    session.refresh_from_db()
    assert member.call_state == MemberCallState.NONE
    assert session.dial_state == DialState.NONE
    event = SessionEvent.objects.filter(session=session).last()
    assert event.message == "+15557654321 could not be reached (no-answer) (via provider)"


@pytest.mark.parametrize(
    ("kind", "field", "before", "after", "event_kind"),
    [
        ("held", "call_state", "Connected", "Hold", EventKind.MEMBER_HELD),
        ("muted", "muted", False, True, EventKind.MEMBER_MUTED),
    ],
)
def test_member_hold_and_mute_reports(api_actor, session, kind, field, before, after, event_kind):
    member = invite(api_actor, session)
    provider_reports(member.call_sid, "answered")
    assert getattr(member.__class__.objects.get(pk=member.pk), field) == before

    provider_reports(member.call_sid, kind)

    member.refresh_from_db()
    assert getattr(member, field) == after
    assert kinds_of(session)[-1] == event_kind


# --- the session's own call ---------------------------------------------------------------


def test_the_callers_answer_connects_the_session(account):
    endpoint = EndpointFactory(account=account, name="Front desk")
    session = CallSessionFactory(
        account=account,
        endpoint=endpoint,
        call_state=CallState.RINGING,
        queue_state=QueueState.QUEUED,
    )

    provider_reports(session.call_sid, "answered", answered_by_name="Bob", answered_by_id="ep-9")

    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert session.queue_state == QueueState.CONNECTED
    assert (session.answered_by_name, session.answered_by_id) == ("Bob", "ep-9")
    assert {m.call_state for m in session.members.all()} == {MemberCallState.CONNECTED}
    assert SessionEvent.objects.get(session=session).message == "Answered by Bob (via provider)"


def test_the_caller_hanging_up_ends_the_session(api_actor, session):
    services.session_hold(actor=api_actor, session_id=session.id, reason="Transferring")
    invite(api_actor, session)

    provider_reports(session.call_sid, "completed")

    session.refresh_from_db()
    assert (session.ended, session.call_state) == (True, CallState.DISCONNECTED)
    assert (session.hold_reason, session.held_at, session.dial_state) == ("None", None, "None")
    assert {m.call_state for m in session.members.all()} == {MemberCallState.NONE}
    assert SessionEvent.objects.filter(session=session).last().message == (
        "Session ended: the call was hung up (via provider)"
    )


def test_a_call_that_ends_while_ringing_was_missed(account):
    session = CallSessionFactory(account=account, call_state=CallState.RINGING)

    provider_reports(session.call_sid, "failed", status="no-answer")

    session.refresh_from_db()
    assert (session.ended, session.was_missed) == (True, True)


def test_reports_after_the_end_change_nothing(api_actor, session):
    member = invite(api_actor, session)
    services.session_end(actor=api_actor, session_id=session.id)
    before = db_state()

    entry = provider_reports(member.call_sid, "answered")

    assert db_state() == before
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "The session has ended")


# --- calls not known yet -----------------------------------------------------------------


def test_a_report_about_an_unknown_call_waits_and_is_retried_later(session):
    before = db_state()

    entry = provider_reports("CAnot-yet", "answered")

    assert db_state() == before
    assert (entry.status, entry.attempts) == (InboxStatus.PENDING, 1)
    assert entry.next_attempt_at > timezone.now()


def test_a_report_about_a_call_that_never_appears_is_given_up(session, settings):
    settings.PROVIDER_INBOX_RETRY_SECONDS = 60
    entry = provider_reports("CAnever", "answered")
    ProviderInboxEntry.objects.filter(pk=entry.pk).update(
        received_at=timezone.now() - timedelta(seconds=61), next_attempt_at=timezone.now()
    )

    services.inbox_process()

    entry.refresh_from_db()
    assert (entry.status, entry.note) == (InboxStatus.IGNORED, "No session has this call")


def test_early_reports_are_applied_in_arrival_order_once_their_call_is_known(
    api_actor, session, monkeypatch, django_capture_on_commit_callbacks
):
    """The invitee answers and hangs up before the invite that dialled them is recorded: both
    reports wait, then apply in order, so the member ends up gone, not connected."""
    early_sid = new_sid("CA")
    monkeypatch.setattr(services.get_provider(), "dial_into_conference", lambda **kwargs: early_sid)
    provider_reports(early_sid, "answered")
    provider_reports(early_sid, "completed")

    with django_capture_on_commit_callbacks(execute=True):
        invite(api_actor, session)

    assert kinds_of(session) == [
        EventKind.MEMBER_INVITED,
        EventKind.MEMBER_ANSWERED,
        EventKind.MEMBER_LEFT,
    ]
    assert session.members.get(call_sid=early_sid).call_state == MemberCallState.NONE
    statuses = ProviderInboxEntry.objects.filter(call_sid=early_sid).values_list(
        "status", flat=True
    )
    assert list(statuses) == [InboxStatus.APPLIED, InboxStatus.APPLIED]


@pytest.mark.django_db(transaction=True)
def test_the_same_report_delivered_twice_at_once_is_stored_and_applied_once():
    session = CallSessionFactory(call_state=CallState.RINGING)
    report = ProviderReport(
        provider="test", event_id=str(uuid.uuid4()), call_sid=session.call_sid, kind="answered"
    )
    barrier = threading.Barrier(4)
    errors = []

    def deliver():
        try:
            barrier.wait(5)
            services.provider_report_receive(report)
        except Exception as error:  # re-raised below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert ProviderInboxEntry.objects.filter(event_id=report.event_id).count() == 1
    assert kinds_of(session) == [EventKind.ANSWERED]
