"""The portal's kept rows (`sessions_app.rows`): never different from a fresh rendering.

A row is rendered once per state of its session (its document revision), holder's name and
kind of viewer, and kept; what varies per request or with time is filled in each response.
So: after every kind of change, a page served from kept rows is the page rendered afresh (at
the same moment, CSRF tokens aside, which are masked anew on every response anyway); and the
holes are filled right: a valid CSRF token, this page's address and filters, durations and
the hold highlight as of the response.
"""

import re
from datetime import timedelta

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.utils import timezone

from sessions_app import rows, services
from sessions_app.models import Account, CallState, Customer, HoldReason, User
from tests.factories import (
    AccountFactory,
    CallSessionFactory,
    CustomerFactory,
    EndpointFactory,
    SessionEventFactory,
)

HTMX = {"HTTP_HX_REQUEST": "true"}
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")([A-Za-z0-9]{64})')


@pytest.fixture
def portal(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def frozen(monkeypatch):
    """The rows' clock stopped at a moment; returns it (seconds since the epoch)."""
    moment = timezone.now().timestamp()
    monkeypatch.setattr(rows.time, "time", lambda: moment)
    return moment


def tokens(body: str) -> set[str]:
    return {match[1] for match in CSRF.findall(body)}


def comparable(body: str) -> str:
    """A page with its CSRF tokens (masked afresh for every response) blanked."""
    return CSRF.sub(r"\1<token>", body)


def fresh_page(portal, path: str = "/", **headers) -> str:
    rows.forget_kept_rows()
    return portal.get(path, **headers).content.decode()


def assert_kept_rows_are_fresh(portal, path: str = "/", **headers) -> str:
    """The page served from kept rows is the page rendered with nothing kept; returns it."""
    portal.get(path, **headers)  # rows kept, if they were not yet
    kept = portal.get(path, **headers).content.decode()
    assert comparable(kept) == comparable(fresh_page(portal, path, **headers))
    return kept


@pytest.fixture
def calls(account, user):
    top = CustomerFactory(account=account, name="Top")
    desk = CustomerFactory(account=account, parent=top, name="Desk")
    endpoint = EndpointFactory(account=account, name="Front")
    connected = CallSessionFactory(
        account=account, customer=desk, endpoint=endpoint, from_name="Zoë <b>"
    )
    held = CallSessionFactory(account=account, customer=top, endpoint=endpoint)
    services.session_hold(
        actor=services.Actor(user=user, via="portal"),
        session_id=held.id,
        reason=HoldReason.TRANSFERRING,
    )
    return {"connected": connected, "held": held, "top": top, "desk": desk, "endpoint": endpoint}


def hold(user, session):
    services.session_hold(actor=services.Actor(user=user, via="portal"), session_id=session.id)


CHANGES = {
    "hold": lambda c, user: hold(user, c["connected"]),
    "resume": lambda c, user: services.session_resume(
        actor=services.Actor(user=user, via="portal"), session_id=c["held"].id
    ),
    "end": lambda c, user: services.session_end(
        actor=services.Actor(user=user, via="portal"), session_id=c["connected"].id
    ),
    "queue state": lambda c, user: services.session_patch(
        actor=services.Actor(user=user, via="api"),
        session_id=c["connected"].id,
        queue_state="Queued",
    ),
    "a log entry only": lambda c, user: SessionEventFactory(session=c["connected"]),
    "rename the account": lambda c, user: Account.objects.update(name="Renamed account"),
    "rename the parent customer": lambda c, user: Customer.objects.filter(pk=c["top"].pk).update(
        name="Renamed top"
    ),
    "move the customer": lambda c, user: services.customer_move(
        customer_id=c["desk"].id, parent_id=None
    ),
    "rename the endpoint": lambda c, user: c["endpoint"].__class__.objects.update(name="Renamed"),
    "rename the holder": lambda c, user: User.objects.filter(pk=user.pk).update(username="bob"),
    "a new call": lambda c, user: CallSessionFactory(account=c["top"].account),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_after_every_kind_of_change_the_kept_rows_are_a_fresh_rendering(
    portal, user, calls, frozen, change
):
    assert_kept_rows_are_fresh(portal)

    change(calls, user)

    assert_kept_rows_are_fresh(portal)
    assert_kept_rows_are_fresh(portal, "/", **{**HTMX, "HTTP_HX_TARGET": "sessions-region"})
    for session in (calls["connected"], calls["held"]):
        assert_kept_rows_are_fresh(portal, f"/live/sessions/{session.id}/row", **HTMX)


def test_the_holders_new_name_shows_in_the_kept_row(portal, user, calls):
    assert "by alice" in portal.get("/").content.decode()

    User.objects.filter(pk=user.pk).update(username="bob")

    body = portal.get("/").content.decode()
    assert "by bob" in body and "by alice" not in body


def test_a_viewer_of_several_accounts_sees_the_account_column(client, account, calls):
    single = UserFactory_with(account)
    several = UserFactory_with(account, AccountFactory(name="Globex"))
    client.force_login(single)
    assert 'class="account"' not in client.get("/").content.decode()
    client.force_login(several)
    assert 'class="account"' in client.get("/").content.decode()
    client.force_login(single)
    assert 'class="account"' not in client.get("/").content.decode()


def UserFactory_with(*accounts):  # noqa: N802 - reads like the factory it wraps
    from tests.factories import UserFactory

    return UserFactory(accounts=list(accounts))


def test_every_form_of_a_kept_row_carries_a_valid_csrf_token(client, user, calls):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/")  # rows kept
    body = client.get("/").content.decode()
    row = body[body.index('<tr id="session-') :]
    [token] = tokens(row)  # one masked token for every row of the response
    secret = client.cookies["csrftoken"].value  # the cookie holds the secret, unmasked
    assert {_unmask_cipher_token(t) for t in tokens(body)} == {secret}

    response = client.post(
        f"/live/sessions/{calls['connected'].id}/hold",
        {"csrfmiddlewaretoken": token, "next": "/"},
    )

    assert response.status_code == 302
    calls["connected"].refresh_from_db()
    assert calls["connected"].call_state == CallState.HOLD


def test_kept_rows_point_back_to_this_page_with_its_filters(portal, calls):
    portal.get("/")  # rows kept, for another address

    body = portal.get("/?q=%3Cb%3E&channel=Voice").content.decode()

    assert 'name="next" value="/?q=%3Cb%3E&amp;channel=Voice"' in body
    assert f"/live/sessions/{calls['connected'].id}/row?channel=Voice&amp;q=%3Cb%3E" in body
    assert "<b>" not in body


def test_durations_and_the_hold_highlight_are_as_of_the_response(
    portal, account, monkeypatch, settings
):
    settings.HOLD_WARN_SECONDS, settings.HOLD_ALERT_SECONDS = 60, 180
    started = timezone.now() - timedelta(minutes=2)
    session = CallSessionFactory(
        account=account, call_state=CallState.HOLD, date_created=started, held_at=started
    )
    moment = started.timestamp()
    monkeypatch.setattr(rows.time, "time", lambda: moment + 61)

    body = portal.get("/").content.decode()
    assert f'id="session-{session.id}" class="state-hold hold-warn"' in body
    assert ">1:01</time>" in body

    moment += 3600  # the same kept row, an hour later
    body = portal.get("/").content.decode()
    assert f'id="session-{session.id}" class="state-hold hold-alert"' in body
    assert ">1:01:01</time>" in body


def test_rows_are_rendered_once_per_state(portal, calls, monkeypatch):
    rendered = []
    original = rows._render_sessions
    monkeypatch.setattr(
        rows,
        "_render_sessions",
        lambda sessions, show: rendered.extend(s.id for s in sessions) or original(sessions, show),
    )
    for _ in range(3):
        portal.get("/")
        portal.get(f"/live/sessions/{calls['held'].id}/row", **HTMX)

    assert sorted(rendered) == sorted([calls["connected"].id, calls["held"].id])
