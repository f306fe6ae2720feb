"""Stored `SessionInfo` documents (`sessions_app.documents`): never served stale.

Every kind of write that changes what a session's document shows, through every path that
makes it (the services, provider reports through the inbox, the ORM as the admin uses it,
queryset updates, raw SQL, renames and moves of what the document names), is run against
sessions whose documents are all stored and fresh. Then every stored document that still
counts must be, byte for byte, the session rendered afresh from its rows (ETag included), and
what a reader gets for every session must be too. Each write must also leave the documents it
does not concern counting: the triggers are precise, not a flush of everything.
"""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from sessions_app import documents, selectors, services
from sessions_app.errors import TelephonyFailed
from sessions_app.models import (
    Account,
    CallSession,
    CallState,
    Customer,
    Endpoint,
    HoldReason,
    QueueState,
    Role,
    SessionDocument,
    SessionEvent,
    SessionMember,
)
from sessions_app.wire import contracts, dto
from sessions_app.wire.csvfmt import render_csv
from sessions_app.wire.jsonfmt import parse_json, render_json
from sessions_app.wire.xmlfmt import render_xml
from tests.conftest import _database_url, provider_reports
from tests.factories import (
    CallSessionFactory,
    CustomerFactory,
    EndpointFactory,
    SessionEventFactory,
    SessionMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def fresh_renderings() -> dict[str, tuple[str, str]]:
    """Every session rendered afresh from its rows: {id: (JSON, ETag)}."""
    return {r["id"]: documents.render(r) for r in selectors.session_records(CallSession.objects)}


def counting_documents() -> dict[str, tuple[str, str]]:
    """The stored documents that a reader would be served as they are: {id: (JSON, ETag)}."""
    rows = SessionDocument.objects.filter(rendered_revision=F("revision"))
    return {pk: (json, etag) for pk, json, etag in rows.values_list("pk", "json", "etag")}


def assert_no_stale_document(user) -> None:
    """No stored document that counts differs from its session rendered afresh, and a reader
    gets the fresh rendering of every session (the list and each session alone)."""
    fresh = fresh_renderings()
    for session_id, stored in counting_documents().items():
        assert stored == fresh[session_id], f"the stored document of {session_id} is stale"
    active = CallSession.objects.filter(ended=False, account__users=user)
    listed = documents.session_documents_active_for(user=user)
    newest_first = active.order_by("-date_created", "-id").values_list("pk", flat=True)
    assert listed == [fresh[pk][0] for pk in newest_first]
    for session_id in fresh:
        assert documents.session_document_for(user=user, session_id=session_id) == fresh[session_id]
    assert counting_documents() == fresh  # the readers stored every one of them


class World:
    """An account with a customer tree (Top > Desk), an endpoint, and three sessions whose
    documents are all stored: `call` (on Desk, with members and a log), `other` (on Top) and
    `bystander` (another customer, another endpoint): what each write may not touch."""

    def __init__(self, account, user, api_actor):
        self.account, self.user, self.actor = account, user, api_actor
        self.top = CustomerFactory(account=account, name="Top")
        self.desk = CustomerFactory(account=account, parent=self.top, name="Desk")
        self.elsewhere = CustomerFactory(account=account, name="Elsewhere")
        self.endpoint = EndpointFactory(account=account, customer=self.desk, name="Front")
        self.call = CallSessionFactory(
            account=account, customer=self.desk, endpoint=self.endpoint, from_name="Zoë «Ω»"
        )
        SessionMemberFactory(session=self.call, display_name="Agent", application_data={"k": "v"})
        SessionEventFactory(session=self.call, message='a "quoted" line\n')
        self.other = CallSessionFactory(account=account, customer=self.top, endpoint=self.endpoint)
        self.bystander = CallSessionFactory(
            account=account,
            customer=self.elsewhere,
            endpoint=EndpointFactory(account=account, name="Back"),
            date_created=timezone.now() - timedelta(minutes=5),
        )
        documents.session_documents(CallSession.objects.all())
        assert set(counting_documents()) == {self.call.id, self.other.id, self.bystander.id}

    @property
    def sessions(self) -> dict[str, CallSession]:
        return {"call": self.call, "other": self.other, "bystander": self.bystander}

    def refreshed(self, session: CallSession) -> CallSession:
        session.refresh_from_db()
        return session


def held(w: World) -> None:
    services.session_hold(actor=w.actor, session_id=w.call.id, reason=HoldReason.TRANSFERRING)


def invited(w: World) -> None:
    services.conference_member_add(actor=w.actor, session_id=w.call.id, destination="+15557654321")


def invited_member(w: World) -> str:
    return w.refreshed(w.call).most_recent_participant_call_sid


# (name, what to do before the documents are stored, the write, the sessions it concerns)
WRITES = [
    ("hold", None, held, {"call"}),
    (
        "resume",
        held,
        lambda w: services.session_resume(actor=w.actor, session_id=w.call.id),
        {"call"},
    ),
    (
        "patch console data",
        None,
        lambda w: services.session_patch(actor=w.actor, session_id=w.call.id, console_data="x"),
        {"call"},
    ),
    (
        "patch call state",
        None,
        lambda w: services.session_patch(
            actor=w.actor, session_id=w.call.id, call_state=CallState.PASSIVE
        ),
        {"call"},
    ),
    (
        "patch hold reason",
        held,
        lambda w: services.session_patch(
            actor=w.actor, session_id=w.call.id, hold_reason=HoldReason.NONE
        ),
        {"call"},
    ),
    (
        "patch queue state",
        None,
        lambda w: services.session_patch(
            actor=w.actor, session_id=w.call.id, queue_state=QueueState.QUEUED
        ),
        {"call"},
    ),
    ("add a member", None, invited, {"call"}),
    (
        "mute the caller",
        None,
        lambda w: services.conference_member_update(
            actor=w.actor, session_id=w.call.id, call_sid=w.call.call_sid, muted=True
        ),
        {"call"},
    ),
    (
        "remove a member",
        invited,
        lambda w: services.conference_member_remove(
            actor=w.actor, session_id=w.call.id, call_sid=invited_member(w)
        ),
        {"call"},
    ),
    (
        "redirect the call",
        None,
        lambda w: services.session_redirect(
            actor=w.actor, session_id=w.call.id, destination="+15557654321"
        ),
        {"call"},
    ),
    (
        "a member answers (provider report)",
        invited,
        lambda w: provider_reports(invited_member(w), "answered"),
        {"call"},
    ),
    (
        "a member hangs up (provider report)",
        invited,
        lambda w: provider_reports(invited_member(w), "completed"),
        {"call"},
    ),
    (
        "a member is held (provider report)",
        None,
        lambda w: provider_reports(w.call.call_sid, "held"),
        {"call"},
    ),
    (
        "end a member",
        invited,
        lambda w: services.session_end(
            actor=w.actor, session_id=w.call.id, call_sid=invited_member(w)
        ),
        {"call"},
    ),
    (
        "end the session",
        None,
        lambda w: services.session_end(actor=w.actor, session_id=w.call.id),
        {"call"},
    ),
    (
        "the call ends (provider report)",
        None,
        lambda w: provider_reports(w.call.call_sid, "completed"),
        {"call"},
    ),
    (
        "a ringing call is answered",
        lambda w: CallSession.objects.filter(pk=w.call.pk).update(call_state=CallState.RINGING),
        lambda w: services.session_answer(
            actor=services.PROVIDER, session_id=w.call.id, answered_by_name="Bob"
        ),
        {"call"},
    ),
    (
        "rename the account",
        None,
        lambda w: Account.objects.filter(pk=w.account.pk).update(name="Acme Two"),
        {"call", "other", "bystander"},
    ),
    (
        "rename the session's customer",
        None,
        lambda w: Customer.objects.filter(pk=w.desk.pk).update(name="Desk Two"),
        {"call"},
    ),
    (
        "rename the parent customer (in the breadcrumb)",
        None,
        lambda w: Customer.objects.filter(pk=w.top.pk).update(name="Top Two"),
        {"call", "other"},
    ),
    (
        "move the customer (the breadcrumb changes)",
        None,
        lambda w: services.customer_move(customer_id=w.desk.id, parent_id=w.elsewhere.id),
        {"call"},
    ),
    (
        "rename the endpoint (saved as the admin does)",
        None,
        lambda w: _saved(Endpoint.objects.get(pk=w.endpoint.pk), name="Front Two"),
        {"call", "other"},
    ),
    (
        "delete the endpoint (the sessions lose it)",
        None,
        lambda w: Endpoint.objects.filter(pk=w.endpoint.pk).delete(),
        {"call", "other"},
    ),
    (
        "delete the customer (the session loses it)",
        None,
        lambda w: Customer.objects.filter(pk=w.desk.pk).delete(),
        {"call"},
    ),
    (
        "edit a session field (saved as the admin does)",
        None,
        lambda w: _saved(w.refreshed(w.call), outcome="Escalated"),
        {"call"},
    ),
    (
        "edit a member (saved as the admin does)",
        None,
        lambda w: _saved(SessionMember.objects.filter(session=w.call).last(), muted=True),
        {"call"},
    ),
    (
        "move a member to another session",
        None,
        lambda w: SessionMember.objects.filter(session=w.call).update(session=w.other),
        {"call", "other"},
    ),
    (
        "delete a member",
        None,
        lambda w: SessionMember.objects.filter(session=w.call).last().delete(),
        {"call"},
    ),
    (
        "delete an event",
        None,
        lambda w: SessionEvent.objects.filter(session=w.call).delete(),
        {"call"},
    ),
    (
        "add an event straight into the table",
        None,
        lambda w: SessionEventFactory(session=w.call),
        {"call"},
    ),
    (
        "raw SQL on the session's row",
        None,
        lambda w: _sql(
            "UPDATE sessions_app_callsession SET display_name = 'raw' WHERE id = %s", w.call.id
        ),
        {"call"},
    ),
    (
        "raw SQL on a member's row",
        None,
        lambda w: _sql(
            'UPDATE sessions_app_sessionmember SET application_data = \'{"a": "b"}\' '
            "WHERE session_id = %s",
            w.call.id,
        ),
        {"call"},
    ),
]


def _saved(instance, **values) -> None:
    for name, value in values.items():
        setattr(instance, name, value)
    instance.save()  # every field, as a ModelAdmin saves a form


def _sql(statement: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.mark.parametrize(
    ("before", "write", "concerns"),
    [pytest.param(before, write, concerns, id=name) for name, before, write, concerns in WRITES],
)
def test_no_write_leaves_a_stale_document_to_read(
    account, user, api_actor, before, write, concerns
):
    world = World(account, user, api_actor)
    if before is not None:
        before(world)
        documents.session_documents(CallSession.objects.all())  # stored again, all fresh
    fresh_before = fresh_renderings()

    write(world)

    fresh_after = fresh_renderings()
    changed = {n for n, s in world.sessions.items() if fresh_after[s.id] != fresh_before[s.id]}
    assert changed and changed <= concerns  # the test's own claim about the write
    counting = counting_documents()
    for name, session in world.sessions.items():
        if name not in concerns:
            assert session.id in counting, f"the document of {name} no longer counts"
    assert_no_stale_document(user)


def test_renames_through_the_admin_leave_no_stale_document(client, account, user, api_actor):
    world = World(account, user, api_actor)
    client.force_login(
        UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    )

    for url, form in [
        (f"/admin/sessions_app/account/{account.pk}/change/", {"name": "Acme (admin)"}),
        (
            f"/admin/sessions_app/customer/{world.top.pk}/change/",
            {"account": account.pk, "parent": "", "name": "Top (admin)"},
        ),
        (
            f"/admin/sessions_app/endpoint/{world.endpoint.pk}/change/",
            {"account": account.pk, "customer": "", "name": "Front (admin)", "kind": "agent"},
        ),
    ]:
        assert client.post(url, form).status_code == 302
        assert_no_stale_document(user)

    body = documents.session_document_for(user=user, session_id=world.call.id)[0]
    assert all(name in body for name in ("Acme (admin)", "Top (admin)", "Front (admin)"))


def test_a_new_session_is_rendered_on_its_first_read(account, user, api_actor):
    world = World(account, user, api_actor)

    started = services.session_start(
        actor=services.SYSTEM,
        account_id=account.id,
        call_sid="CA-new",
        customer=world.desk,
        from_address="+15550000001",
        to_address="+15550000002",
    )

    assert SessionDocument.objects.get(pk=started.pk).rendered_revision is None
    assert set(counting_documents()) == {world.call.id, world.other.id, world.bystander.id}
    assert_no_stale_document(user)


def test_a_document_rendered_before_a_change_is_not_stored_after_it(account, user, api_actor):
    # A reader reads the rows and renders; a write commits; the reader stores what it rendered:
    # the compare-and-set on the revision it read refuses it.
    world = World(account, user, api_actor)
    SessionEventFactory(session=world.call, message="first")
    records = selectors.session_records(CallSession.objects.filter(pk=world.call.pk))
    rendered = {r["id"]: documents.render(r) for r in records}
    SessionEventFactory(session=world.call, message="second")

    documents._store(records, rendered)

    assert world.call.id not in counting_documents()
    assert_no_stale_document(user)


def test_a_provider_failure_leaves_no_stale_document(account, user, api_actor, failing_provider):
    world = World(account, user, api_actor)
    failing_provider("hold")

    with pytest.raises(TelephonyFailed):
        held(world)

    assert world.call.id not in counting_documents()
    assert_no_stale_document(user)


@pytest.mark.django_db(transaction=True)  # another connection must see the rows
def test_a_document_locked_by_a_writer_is_skipped_not_waited_for(account, user, api_actor):
    world = World(account, user, api_actor)
    SessionEventFactory(session=world.call, message="stale now")
    records = selectors.session_records(CallSession.objects.filter(pk=world.call.pk))
    rendered = {r["id"]: documents.render(r) for r in records}

    # Another connection holds the document's row, as a writer's transaction does until it
    # commits; the store neither waits for it nor overwrites it.
    with psycopg.connect(_database_url()) as writer:
        writer.execute(
            "SELECT 1 FROM sessions_app_sessiondocument WHERE session_id = %s FOR UPDATE",
            [world.call.id],
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # a wait would fail the test, not hang it
        documents._store(records, rendered)
        writer.rollback()

    assert world.call.id not in counting_documents()
    documents._store(records, rendered)  # unlocked: stored
    assert world.call.id in counting_documents()
    assert_no_stale_document(user)


def test_xml_and_csv_read_from_documents_are_those_rendered_from_the_rows(
    account, complete_session
):
    # Every shape: every member set (complete_session), nulls and empty lists (a bare session),
    # a customer tree, unicode, quotes, markup and a control character in text and maps.
    top = CustomerFactory(account=account, name="Top & <Co>")
    tree = CallSessionFactory(
        account=account, customer=CustomerFactory(account=account, parent=top, name="Dësk")
    )
    bare = CallSessionFactory(account=account, caller=False, from_name=None, destination=None)
    SessionMemberFactory(
        session=tree,
        display_name='<b>"Zoë" & Ω</b>\x01',
        application_data={"quote": 'he said "hi"', "empty": "", "ünï": "∞"},
    )
    sessions = CallSession.objects.filter(pk__in=[complete_session.pk, bare.pk, tree.pk])
    records = {r["id"]: r for r in selectors.session_records(sessions)}
    stored = documents.session_documents(sessions)
    assert len(stored) == 3

    for json in stored:
        values = parse_json(contracts.SESSION_INFO, json)
        from_rows = dto.session_info(records[values["Id"]])
        assert values == from_rows
        for render in (render_xml, render_csv):
            assert render(contracts.SESSION_INFO, values) == render(
                contracts.SESSION_INFO, from_rows
            )
    result = contracts.APP_GET_ACTIVE_SESSIONS_RESULT
    read_back = dto.active_sessions_result(parse_json(contracts.SESSION_INFO, j) for j in stored)
    from_rows = dto.active_sessions_result(dto.session_info(r) for r in records.values())
    from_rows["Sessions"].sort(
        key=lambda v: [s["Id"] for s in read_back["Sessions"]].index(v["Id"])
    )
    for render in (render_xml, render_csv, render_json):
        assert render(result, read_back) == render(result, from_rows)


def test_json_is_the_document_and_xml_csv_its_values(api, account, user, api_actor):
    # A document is what every format is answered from (here forged, to see it).
    world = World(account, user, api_actor)
    forged = documents.render(
        selectors.session_records(CallSession.objects.filter(pk=world.call.pk))[0]
    )[0].replace("Zoë «Ω»", "Forged")
    SessionDocument.objects.filter(pk=world.call.pk).update(json=forged)
    documents.forget_kept_documents()

    for fmt in ("json", "xml", "csv"):
        assert "Forged" in api.get(f"/portal/active-sessions.{fmt}").content.decode()
