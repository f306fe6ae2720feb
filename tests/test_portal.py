"""Portal views, plain and with htmx, on the same services and access rules as the API."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sessions_app.models import (
    CallState,
    Channel,
    Direction,
    HoldReason,
    MemberCallState,
    QueueState,
    Role,
    SessionEvent,
    Via,
)
from tests.factories import (
    CallSessionFactory,
    CustomerFactory,
    SessionEventFactory,
    SessionMemberFactory,
    UserFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx_to(target: str) -> dict:
    return {**HTMX, "HTTP_HX_TARGET": target}


@pytest.fixture
def portal(client, user):
    client.force_login(user)
    return client


def row_ids(response) -> list[str]:
    return response.context["rows"].ids


# --- the page -----------------------------------------------------------------------------------


def test_home_sends_anonymous_visitors_to_sign_in_and_back(client, db):
    response = client.get("/?state=Hold")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/%3Fstate%3DHold")


def test_sign_in_returns_to_the_page_asked_for(client, user):
    response = client.post(
        "/accounts/login/",
        {"username": user.username, "password": "test-password", "next": "/?state=Hold"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/?state=Hold"


def test_home_lists_only_the_users_own_accounts_sessions(portal, account, other_account):
    mine = CallSessionFactory(account=account, from_name="Mine Caller")
    theirs = CallSessionFactory(account=other_account, from_name="Secret Caller")
    response = portal.get("/")
    assert response.status_code == 200
    assert row_ids(response) == [mine.id]
    body = response.content.decode()
    assert "Mine Caller" in body
    assert theirs.id not in body and "Secret Caller" not in body


def test_home_excludes_ended_sessions_and_lists_newest_first(portal, account):
    old = CallSessionFactory(account=account, date_created=timezone.now() - timedelta(minutes=5))
    new = CallSessionFactory(account=account)
    CallSessionFactory(account=account, ended=True, call_state=CallState.DISCONNECTED)
    assert row_ids(portal.get("/")) == [new.id, old.id]


def test_home_with_htmx_returns_only_the_sessions_region(portal, session):
    response = portal.get("/", **htmx_to("sessions-region"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="sessions-region"')
    assert "<html" not in body and 'id="filters"' not in body
    assert f'id="session-{session.id}"' in body


def test_counters_count_the_filtered_sessions(portal, account):
    CallSessionFactory(account=account, call_state=CallState.RINGING, queue_state=QueueState.QUEUED)
    CallSessionFactory(account=account, call_state=CallState.CONNECTED)
    CallSessionFactory(account=account, call_state=CallState.HOLD)
    counters = portal.get("/").context["counters"]
    assert (counters.active, counters.ringing, counters.connected) == (3, 1, 1)
    assert (counters.on_hold, counters.queued) == (1, 1)
    assert counters.longest_wait is not None
    response = portal.get("/live/counters?state=Hold", **HTMX)
    assert response.context["counters"].active == 1
    assert 'data-counter="on_hold">1<' in response.content.decode()


def test_empty_states_tell_no_calls_from_no_matches(portal, account):
    assert "No active calls right now" in portal.get("/").content.decode()
    CallSessionFactory(account=account)
    assert "No active calls match these filters" in portal.get("/?state=Hold").content.decode()


def test_held_rows_are_highlighted_past_each_threshold(portal, account, settings):
    settings.HOLD_WARN_SECONDS, settings.HOLD_ALERT_SECONDS = 60, 180
    now = timezone.now()
    fresh = CallSessionFactory(account=account, call_state=CallState.HOLD, held_at=now)
    warn = CallSessionFactory(
        account=account, call_state=CallState.HOLD, held_at=now - timedelta(seconds=70)
    )
    alert = CallSessionFactory(
        account=account, call_state=CallState.HOLD, held_at=now - timedelta(seconds=200)
    )
    body = portal.get("/").content.decode()
    assert f'id="session-{fresh.id}" class="state-hold"' in body
    assert f'id="session-{warn.id}" class="state-hold hold-warn"' in body
    assert f'id="session-{alert.id}" class="state-hold hold-alert"' in body


def test_only_actions_allowed_for_the_state_and_channel_are_offered(portal, account):
    connected = CallSessionFactory(account=account, call_state=CallState.CONNECTED)
    held = CallSessionFactory(account=account, call_state=CallState.HOLD)
    ringing = CallSessionFactory(account=account, call_state=CallState.RINGING)
    chat = CallSessionFactory(account=account, channel=Channel.CHAT)

    def actions(session):
        return portal.get(f"/live/sessions/{session.id}/row", **HTMX).content.decode()

    assert "act-hold" in actions(connected) and "act-invite" in actions(connected)
    assert "act-resume" not in actions(connected)
    assert "act-resume" in actions(held) and "act-hold" not in actions(held)
    # Any live session may be ended, and a ringing call or a chat nothing else.
    for session in (connected, held, ringing, chat):
        assert "act-end" in actions(session)
    assert re.findall(r"act-[a-z]+", actions(ringing)) == ["act-end"]
    assert re.findall(r"act-[a-z]+", actions(chat)) == ["act-end"]


# --- filters ------------------------------------------------------------------------------------


def test_filters_narrow_by_state_channel_direction_and_search(portal, account):
    held = CallSessionFactory(account=account, call_state=CallState.HOLD, from_name="Grace Hopper")
    chat = CallSessionFactory(account=account, channel=Channel.CHAT, from_address="+15559990000")
    outgoing = CallSessionFactory(account=account, direction=Direction.OUTGOING)
    assert row_ids(portal.get("/?state=Hold")) == [held.id]
    assert row_ids(portal.get("/?channel=Chat")) == [chat.id]
    assert row_ids(portal.get("/?direction=Outgoing")) == [outgoing.id]
    assert row_ids(portal.get("/?q=hopper")) == [held.id]
    assert row_ids(portal.get("/?q=999000")) == [chat.id]


def test_customer_filter_includes_sub_customers(portal, account):
    top = CustomerFactory(account=account, name="Top")
    child = CustomerFactory(account=account, parent=top, name="Child")
    other = CustomerFactory(account=account, name="Other")
    in_top = CallSessionFactory(account=account, customer=top)
    in_child = CallSessionFactory(account=account, customer=child)
    CallSessionFactory(account=account, customer=other)
    assert set(row_ids(portal.get(f"/?customer={top.id}"))) == {in_top.id, in_child.id}
    assert row_ids(portal.get(f"/?customer={child.id}")) == [in_child.id]


def test_start_filter_keeps_sessions_created_since_that_day(portal, account):
    old = CallSessionFactory(account=account, date_created=timezone.now() - timedelta(days=3))
    new = CallSessionFactory(account=account)
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert row_ids(portal.get(f"/?start={since}")) == [new.id]
    assert old.id not in row_ids(portal.get(f"/?start={since}"))


def test_start_filter_takes_any_offset_python_can_read(portal, account):
    """+20:00 is past what PostgreSQL accepts as an offset: the date is read once, in UTC, by
    the same parser as the API's StartDate (it answered 500 before)."""
    session = CallSessionFactory(account=account)

    response = portal.get("/?start=2026-01-01T00:00:00%2B20:00")

    assert response.status_code == 200
    assert row_ids(response) == [session.id]


def test_invalid_filter_values_are_ignored_with_a_warning(portal, session):
    response = portal.get("/?state=Exploded&start=yesterday", follow=True)
    assert row_ids(response) == [session.id]
    warnings = [str(m) for m in response.context["messages"]]
    assert "Unknown state 'Exploded' ignored." in warnings
    assert any("Start date 'yesterday'" in w for w in warnings)


def test_another_accounts_id_as_filter_matches_nothing(portal, other_account):
    CallSessionFactory(account=other_account)
    assert row_ids(portal.get(f"/?account={other_account.id}")) == []


def test_system_administrator_sees_every_account_and_can_pick_one(client, account, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    client.force_login(admin)
    mine = CallSessionFactory(account=account)
    theirs = CallSessionFactory(account=other_account)
    response = client.get("/")
    assert set(row_ids(response)) == {mine.id, theirs.id}
    assert 'name="account"' in response.content.decode()
    assert row_ids(client.get(f"/?account={other_account.id}")) == [theirs.id]


# --- query counts -------------------------------------------------------------------------------


def _sessions_with_details(account, count):
    customer = CustomerFactory(account=account, parent=CustomerFactory(account=account))
    for _ in range(count):
        session = CallSessionFactory(account=account, customer=customer, call_state=CallState.HOLD)
        session.held_by_user_id = session.account.users.first().id
        session.save(update_fields=["held_by_user_id"])
        SessionMemberFactory(session=session)
        SessionEventFactory.create_batch(3, session=session)


@pytest.mark.parametrize("count", [1, 50])
def test_page_queries_do_not_grow_with_sessions(portal, account, count, django_assert_num_queries):
    _sessions_with_details(account, count)
    # 1 django session, 2 user, 3 accounts and customers for the filters (and whether rows
    # name the account), 4 the sessions' revisions and holders' names. Rows show no members or
    # log; they are kept by revision (sessions_app.rows), with what the counters count of
    # them, so only the first page renders them: + 5 sessions (+account/customer/endpoint),
    # 6 breadcrumb customers, 7 holders' names.
    with django_assert_num_queries(7):
        first = portal.get("/")
    with django_assert_num_queries(4):
        response = portal.get("/")
    assert len(first.context["rows"]) == len(response.context["rows"]) == count


@pytest.mark.parametrize("count", [1, 50])
def test_region_queries_do_not_grow_with_sessions(
    portal, account, count, django_assert_num_queries
):
    _sessions_with_details(account, count)
    # As the page, with the user's account count instead of the filter form's accounts and
    # customers: 4 queries, 7 with rows to render.
    with django_assert_num_queries(7):
        portal.get("/", **htmx_to("sessions-region"))
    with django_assert_num_queries(4):
        portal.get("/", **htmx_to("sessions-region"))


# --- row and detail -----------------------------------------------------------------------------


def test_row_of_an_ended_or_foreign_session_is_empty(portal, account, other_account):
    ended = CallSessionFactory(account=account, ended=True, call_state=CallState.DISCONNECTED)
    foreign = CallSessionFactory(account=other_account)
    for session in (ended, foreign):
        response = portal.get(f"/live/sessions/{session.id}/row", **HTMX)
        assert response.status_code == 200
        assert response.content == b""


def test_detail_shows_every_part_of_the_session(portal, session):
    SessionMemberFactory(
        session=session, identity="+14445550000", call_state=MemberCallState.RINGING
    )
    SessionEventFactory(session=session, message="Something happened")
    session.console_data = "ticket=42"
    session.save()
    body = portal.get(f"/live/sessions/{session.id}").content.decode()
    for text in ("+14445550000", "Ringing", "Something happened", "ticket=42", session.call_sid):
        assert text in body
    partial = portal.get(f"/live/sessions/{session.id}", **htmx_to("session-detail"))
    assert partial.content.decode().lstrip().startswith('<article id="session-detail"')


def test_detail_of_another_accounts_session_is_not_found(portal, other_account):
    foreign = CallSessionFactory(account=other_account)
    assert portal.get(f"/live/sessions/{foreign.id}").status_code == 404
    assert portal.get("/live/sessions/doesnotexist").status_code == 404


# --- actions ------------------------------------------------------------------------------------


def test_hold_without_javascript_redirects_back_with_a_message(portal, session, user):
    response = portal.post(
        f"/live/sessions/{session.id}/hold",
        {"reason": "Transferring", "next": "/?state=Connected"},
        follow=True,
    )
    assert response.redirect_chain == [("/?state=Connected", 302)]
    assert [str(m) for m in response.context["messages"]] == ["Call put on hold."]
    session.refresh_from_db()
    assert session.call_state == CallState.HOLD
    assert session.hold_reason == HoldReason.TRANSFERRING
    assert session.held_by_user_id == user.id
    entry = SessionEvent.objects.filter(session=session).latest("seq")
    assert entry.via == Via.PORTAL and entry.actor == user
    assert "via portal" in entry.message


def test_hold_with_htmx_answers_the_updated_row_and_a_flash_event(portal, session):
    response = portal.post(
        f"/live/sessions/{session.id}/hold", {"reason": "None"}, **htmx_to(f"session-{session.id}")
    )
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="session-{session.id}" class="state-hold')
    assert "act-resume" in body
    assert '"portal-flash"' in response["HX-Trigger-After-Swap"]
    assert "Call put on hold." in response["HX-Trigger-After-Swap"]


def test_resume_takes_the_call_off_hold(portal, account):
    held = CallSessionFactory(
        account=account, call_state=CallState.HOLD, hold_reason="Transferring"
    )
    response = portal.post(f"/live/sessions/{held.id}/resume", **HTMX)
    assert response.status_code == 200
    held.refresh_from_db()
    assert (held.call_state, held.hold_reason, held.held_by_user_id) == ("Connected", "None", None)


def test_invite_adds_a_ringing_member(portal, session):
    response = portal.post(
        f"/live/sessions/{session.id}/invite",
        {"destination": "+15557654321", "from_number": ""},
        **HTMX,
    )
    assert response.status_code == 200
    assert "Inviting +15557654321" in response["HX-Trigger-After-Swap"]
    member = session.members.get(identity="+15557654321")
    assert member.call_state == MemberCallState.RINGING and member.call_sid.startswith("CA")
    session.refresh_from_db()
    assert session.conference_sid.startswith("CF") and session.dial_state == "Active"


def test_invite_with_a_bad_destination_says_why_and_changes_nothing(portal, session):
    before = (session.members.count(), SessionEvent.objects.count())
    response = portal.post(
        f"/live/sessions/{session.id}/invite", {"destination": "call bob"}, **HTMX
    )
    assert response.status_code == 200
    assert "must be an E.164 number" in response["HX-Trigger-After-Swap"]
    assert '"failed": true' in response["HX-Trigger-After-Swap"]
    assert (session.members.count(), SessionEvent.objects.count()) == before


def test_action_on_an_ended_call_is_explained_and_the_row_removed(portal, account):
    ended = CallSessionFactory(account=account, ended=True, call_state=CallState.DISCONNECTED)
    response = portal.post(f"/live/sessions/{ended.id}/hold", **HTMX)
    assert response.content == b""
    assert "That call has already ended." in response["HX-Trigger-After-Swap"]
    plain = portal.post(f"/live/sessions/{ended.id}/hold", follow=True)
    assert [str(m) for m in plain.context["messages"]] == ["That call has already ended."]


def test_action_on_another_accounts_call_changes_nothing(portal, other_account):
    foreign = CallSessionFactory(account=other_account)
    response = portal.post(f"/live/sessions/{foreign.id}/hold", **HTMX)
    assert response.content == b""
    assert "no longer available" in response["HX-Trigger-After-Swap"]
    foreign.refresh_from_db()
    assert foreign.call_state == CallState.CONNECTED
    assert not SessionEvent.objects.filter(session=foreign).exists()


def test_actions_only_answer_post(portal, session):
    for action in ("hold", "resume", "invite"):
        assert portal.get(f"/live/sessions/{session.id}/{action}").status_code == 405


def test_actions_are_csrf_protected(user, session):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(f"/live/sessions/{session.id}/hold", **HTMX)
    assert response.status_code == 403
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED


def test_redirect_after_action_stays_on_this_site(portal, session):
    response = portal.post(
        f"/live/sessions/{session.id}/hold", {"next": "https://evil.example/steal"}
    )
    assert response["Location"] == "/"


def test_user_without_a_role_is_refused(client, account, session):
    nobody = UserFactory(role=Role.NONE, accounts=[account])
    client.force_login(nobody)
    assert client.get("/").status_code == 403
    assert client.post(f"/live/sessions/{session.id}/hold").status_code == 403
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED


def test_pages_forbid_inline_scripts(portal, session):
    policy = portal.get("/")["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert script_src.strip() == "script-src 'self'"
    assert "<script>" not in portal.get("/").content.decode()


def test_htmx_comes_from_our_own_static_files(portal, session):
    body = portal.get("/").content.decode()
    assert '<script src="/static/django_htmx/htmx-2.min.js"' in body
    assert "/static/django_htmx/ext/hx-sse-2.min.js" in body
    assert "https://" not in body.split("<body")[0]


def test_row_follows_the_pages_filters(portal, account):
    ringing = CallSessionFactory(account=account, call_state=CallState.RINGING)
    held = CallSessionFactory(account=account, call_state=CallState.HOLD)
    assert portal.get(f"/live/sessions/{ringing.id}/row?state=Hold", **HTMX).content == b""
    row = portal.get(f"/live/sessions/{held.id}/row?state=Hold", **HTMX).content.decode()
    assert f'hx-get="/live/sessions/{held.id}/row?state=Hold"' in row


def test_region_tells_the_page_where_a_new_sessions_row_is(portal, session):
    body = portal.get("/?channel=Voice", **htmx_to("sessions-region")).content.decode()
    assert 'data-row-url="/live/sessions/__id__/row?channel=Voice"' in body


def test_row_answered_to_an_action_keeps_the_pages_filters(portal, session):
    response = portal.post(f"/live/sessions/{session.id}/hold", {"next": "/?channel=Voice"}, **HTMX)
    assert f'hx-get="/live/sessions/{session.id}/row?channel=Voice"' in response.content.decode()
