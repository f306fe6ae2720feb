"""The active-sessions page as a signed-in account admin sees it."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from sessions_app.models import CallSession, CallState, HoldReason, QueueState
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, CallSessionFactory


def test_user_sees_their_sessions_with_callers_states_and_counters(
    user, account, new_page, server_url
):
    now = timezone.now()
    connected = CallSessionFactory(
        account=account, from_name="Ada Lovelace", from_address="+15550000001"
    )
    ringing = CallSessionFactory(
        account=account,
        call_state=CallState.RINGING,
        from_name="Grace Hopper",
        from_address="+15550000002",
        date_created=now - timedelta(seconds=90),
    )
    held = CallSessionFactory(
        account=account,
        call_state=CallState.HOLD,
        hold_reason=HoldReason.TRANSFERRING,
        held_at=now,
        from_name="Alan Turing",
        from_address="+15550000003",
    )
    queued = CallSessionFactory(
        account=account,
        call_state=CallState.PASSIVE,
        queue_state=QueueState.QUEUED,
        from_name=None,
        from_address="+15550000004",
    )
    CallSessionFactory(account=account, call_state=CallState.DISCONNECTED, from_name="Ended")

    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    expect(page.locator("tr[data-session-id]")).to_have_count(4)
    expectations = [
        (connected, "Ada Lovelace", "+15550000001", "call-connected", "Connected"),
        (ringing, "Grace Hopper", "+15550000002", "call-ringing", "Ringing"),
        (held, "Alan Turing", "+15550000003", "call-hold", "Hold"),
        (queued, "+15550000004", None, "call-passive", "Passive"),
    ]
    for session, caller, number, badge, state in expectations:
        row = page.locator(f"#session-{session.id}")
        expect(row.locator("a.caller")).to_have_text(caller)
        if number:
            expect(row.locator("td[data-label=Caller] small")).to_have_text(number)
        expect(row.locator(f".badge.{badge}")).to_have_text(state)
    expect(page.locator(f"#session-{queued.id} .badge.queue-queued")).to_have_text("Queue: Queued")
    expect(page.locator(f"#session-{held.id} .hold-info")).to_contain_text("Transferring")
    expect(page.get_by_text("Ended")).to_have_count(0)

    counters = page.locator("#counters")
    for name, value in [
        ("active", "4"),
        ("ringing", "1"),
        ("connected", "1"),
        ("on_hold", "1"),
        ("queued", "1"),
    ]:
        expect(counters.locator(f"dd[data-counter={name}]")).to_have_text(value)
    # The longest wait is the ringing call's, 90 seconds old when the page was drawn.
    expect(counters.locator("dd[data-counter=longest_wait]")).to_have_text(re.compile(r"^1:3\d$"))


def test_call_held_over_three_minutes_is_highlighted_as_alert(user, account, new_page, server_url):
    session = CallSessionFactory(account=account, call_state=CallState.HOLD)
    CallSession.objects.filter(pk=session.pk).update(
        held_at=timezone.now() - timedelta(seconds=200)
    )

    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    row = page.locator(f"#session-{session.id}")
    expect(row).to_have_class(re.compile(r"\bhold-alert\b"))
    expect(row).not_to_have_class(re.compile(r"\bhold-warn\b"))
    expect(row.locator(".hold-timer")).to_have_text(re.compile(r"^3:2\d$"))


def test_call_held_over_a_minute_is_highlighted_as_warning(user, account, new_page, server_url):
    warned = CallSessionFactory(account=account, call_state=CallState.HOLD)
    fresh = CallSessionFactory(account=account, call_state=CallState.HOLD)
    now = timezone.now()
    CallSession.objects.filter(pk=warned.pk).update(held_at=now - timedelta(seconds=70))
    CallSession.objects.filter(pk=fresh.pk).update(held_at=now - timedelta(seconds=5))

    page = new_page()
    sign_in(page, server_url, "alice", PASSWORD)

    row = page.locator(f"#session-{warned.id}")
    expect(row).to_have_class(re.compile(r"\bhold-warn\b"))
    expect(row).not_to_have_class(re.compile(r"\bhold-alert\b"))
    expect(page.locator(f"#session-{fresh.id}")).not_to_have_class(re.compile(r"\bhold-"))
