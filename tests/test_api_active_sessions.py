"""GET /portal/active-sessions (AppGetActiveSessions): what each user may see, the filters,
the order, every format, and a query count that does not grow with the number of sessions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from sessions_app.documents import forget_kept_documents
from sessions_app.models import CallSession, CallState, Customer, Role, SessionDocument
from tests.conftest import (
    FORMATS,
    MEDIA_TYPES,
    api_client_as,
    db_state,
    error_status,
    wire_sessions,
)
from tests.factories import (
    AccountFactory,
    CallSessionFactory,
    CustomerFactory,
    EndpointFactory,
    SessionEventFactory,
    SessionMemberFactory,
    UserFactory,
)

URL = "/portal/active-sessions"


def ids(response) -> list[str]:
    return [item["id"] for item in response.json()["sessions"]]


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_in_each_format(api, account, fmt):
    older = CallSessionFactory(account=account, date_created=timezone.now() - timedelta(hours=1))
    newer = CallSessionFactory(account=account, call_state=CallState.HOLD)

    response = api.get(URL, HTTP_ACCEPT=MEDIA_TYPES[fmt])

    assert response.status_code == 200
    assert response["Content-Type"].startswith(MEDIA_TYPES[fmt])
    sessions = wire_sessions(response)
    assert [s["Id"] for s in sessions] == [newer.id, older.id]
    assert [s["CallState"] for s in sessions] == ["Hold", "Connected"]
    assert {s["AccountName"] for s in sessions} == {"Acme"}


@pytest.mark.parametrize(
    ("method", "route", "media_type"),
    [
        ("get", "/api/AppGetActiveSessions?accountId={account}", "application/json"),
        ("get", "/json/reply/AppGetActiveSessions?accountId={account}", "application/json"),
        ("get", "/xml/reply/AppGetActiveSessions?accountId={account}", "application/xml"),
        ("get", "/portal/active-sessions.csv?accountId={account}", "text/csv"),
        ("post", "/api/AppGetActiveSessions", "application/json"),
    ],
)
def test_list_through_each_route(api, account, session, method, route, media_type):
    response = getattr(api, method)(
        route.format(account=account.id), {"accountId": account.id}, format="json"
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert [s["Id"] for s in wire_sessions(response)] == [session.id]


def test_list_is_newest_first(api, account):
    now = timezone.now()
    created = [
        CallSessionFactory(account=account, date_created=now - timedelta(minutes=m))
        for m in (30, 5, 60, 1)
    ]

    response = api.get(URL)

    expected = sorted(created, key=lambda s: s.date_created, reverse=True)
    assert ids(response) == [s.id for s in expected]


def test_list_leaves_out_ended_sessions(api, account, session):
    CallSessionFactory(account=account, call_state=CallState.DISCONNECTED)
    ended_by_api = CallSessionFactory(account=account)
    api.delete(f"/sessions/{ended_by_api.id}")

    assert ids(api.get(URL)) == [session.id]


def test_list_never_shows_another_accounts_sessions(api, session, other_account):
    CallSessionFactory(account=other_account)

    assert ids(api.get(URL)) == [session.id]


@pytest.mark.parametrize("param", ["accountId", "customerId"])
def test_list_filtered_on_another_accounts_ids_is_empty(api, session, other_account, param):
    customer = CustomerFactory(account=other_account)
    CallSessionFactory(account=other_account, customer=customer)
    value = other_account.id if param == "accountId" else customer.id

    response = api.get(URL, {param: value})

    assert response.status_code == 200
    assert ids(response) == []


def test_list_filtered_by_account(account, other_account):
    user = UserFactory(accounts=[account, other_account])
    mine = CallSessionFactory(account=account)
    CallSessionFactory(account=other_account)

    response = api_client_as(user).get(URL, {"accountId": account.id})

    assert ids(response) == [mine.id]


def test_list_shows_all_the_users_accounts(account, other_account):
    user = UserFactory(accounts=[account, other_account])
    sessions = {
        CallSessionFactory(account=account).id,
        CallSessionFactory(account=other_account).id,
    }
    CallSessionFactory(account=AccountFactory())

    assert set(ids(api_client_as(user).get(URL))) == sessions


def test_a_system_administrator_sees_every_account(account, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    sessions = {CallSessionFactory(account=a).id for a in (account, other_account)}

    assert set(ids(api_client_as(admin).get(URL))) == sessions


def test_a_system_administrator_can_filter_by_account(account, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    CallSessionFactory(account=account)
    theirs = CallSessionFactory(account=other_account)

    assert ids(api_client_as(admin).get(URL, {"accountId": other_account.id})) == [theirs.id]


@pytest.fixture
def customer_tree(account):
    """top -> child -> grandchild, and top's other child `sibling`, each with one session."""
    top = CustomerFactory(account=account, name="Top")
    child = CustomerFactory(account=account, parent=top, name="Child")
    grandchild = CustomerFactory(account=account, parent=child, name="Grandchild")
    sibling = CustomerFactory(account=account, parent=top, name="Sibling")
    customers = {"top": top, "child": child, "grandchild": grandchild, "sibling": sibling}
    return {
        name: (customer, CallSessionFactory(account=account, customer=customer))
        for name, customer in customers.items()
    }


@pytest.mark.parametrize(
    ("customer", "expected"),
    [
        ("top", {"top", "child", "grandchild", "sibling"}),
        ("child", {"child", "grandchild"}),
        ("grandchild", {"grandchild"}),
        ("sibling", {"sibling"}),
    ],
)
def test_list_filtered_by_customer_includes_sub_customers(
    api, customer_tree, session, customer, expected
):
    response = api.get(URL, {"customerId": customer_tree[customer][0].id})

    assert set(ids(response)) == {customer_tree[name][1].id for name in expected}


def test_list_filtered_by_an_unknown_customer_is_empty(api, session):
    assert ids(api.get(URL, {"customerId": "nope"})) == []


def test_list_gives_the_customer_breadcrumb_from_the_top(api, customer_tree):
    grandchild, session = customer_tree["grandchild"]

    response = api.get(URL, {"customerId": grandchild.id})

    [item] = response.json()["sessions"]
    assert item["customerId"] == grandchild.id
    assert item["customerName"] == "Grandchild"
    assert item["customerBreadcrumb"] == [
        {"id": customer_tree["top"][0].id, "name": "Top"},
        {"id": customer_tree["child"][0].id, "name": "Child"},
        {"id": grandchild.id, "name": "Grandchild"},
    ]


@pytest.mark.parametrize(
    ("start_date", "expected"),
    [
        ("2026-03-01T11:00:00Z", {"noon", "evening"}),
        ("2026-03-01T12:00:00Z", {"noon", "evening"}),  # inclusive
        ("2026-03-01T12:00:01", {"evening"}),  # naive is UTC
        ("2026-03-01T13:00:00+02:00", {"noon", "evening"}),  # 11:00 UTC
        ("2026-03-02T06:00:00+18:00", {"noon", "evening"}),  # 12:00 UTC, past PostgreSQL's +15:59
        ("2026-02-28T08:00:00-23:59", {"noon", "evening"}),  # 03-01 07:59 UTC
        ("2026-03-01", {"morning", "noon", "evening"}),
        ("2026-03-02", set()),
        # ServiceStack's JSON dates: milliseconds since the epoch, the offset only says where
        ("/Date(1772366400000)/", {"noon", "evening"}),
        ("/Date(1772366400000-0500)/", {"noon", "evening"}),
        ("\\/Date(1772366401000)\\/", {"evening"}),
    ],
)
def test_list_filtered_by_start_date(api, account, start_date, expected):
    times = {"morning": 6, "noon": 12, "evening": 20}
    sessions = {
        name: CallSessionFactory(
            account=account, date_created=datetime(2026, 3, 1, hour, tzinfo=UTC)
        )
        for name, hour in times.items()
    }
    CallSessionFactory(account=account, date_created=datetime(2026, 2, 28, 23, tzinfo=UTC))

    response = api.get(URL, {"startDate": start_date})

    assert response.status_code == 200
    assert set(ids(response)) == {sessions[name].id for name in expected}


@pytest.mark.parametrize(
    "start_date",
    [
        "yesterday",
        "2026-13-01",
        "2026-02-30T10:00:00",
        "1",
        "2026-03-01T00:00:00+25:00",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:00:00-02:00",  # after year 9999 in UTC
        "/Date(abc)/",
        "/Date(999999999999999)/",  # past year 9999
        "/Date(1772366400000)",
    ],
)
def test_list_with_a_bad_start_date_is_400(api, session, start_date):
    response = api.get(URL, {"startDate": start_date})

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "InvalidDate"
    assert [e["fieldName"] for e in status["errors"]] == ["StartDate"]


def test_list_is_empty_for_a_user_with_no_accounts(db):
    user = UserFactory(accounts=[])
    CallSessionFactory()

    response = api_client_as(user).get(URL)

    assert response.status_code == 200
    assert response.json() == {"sessions": []}


def test_list_changes_nothing(api, session):
    before = db_state()

    api.get(URL)

    assert db_state() == before


# --- query count ------------------------------------------------------------------------------

# GET /portal/active-sessions costs a fixed number of queries, however many sessions it lists.
# In every format, from the sessions' stored documents (sessions_app.documents; XML and CSV
# from the values read back from them):
#   1. authentication: the user by username (HTTP Basic)
#   2. the sessions' document revisions, scoped to the user's accounts by a subquery (and the
#      customer-tree filter, when given, a subquery of the same query); the documents are in
#      this process's memory, by revision
LIST_QUERIES = 2
# ... when the process has not kept some of them (another process stored them, say):
#   3. their stored documents, those at their current revision
LIST_QUERIES_STORED = 3
# ... and when some are not stored at their current revision (changed since, or new):
#   4. those sessions, joined to account, customer and endpoint
#   5. their members
#   6. their log entries
#   7. the names of every customer in their breadcrumbs
#   8. the documents rendered from them stored (one UPDATE)
LIST_QUERIES_RENDERING = 8


def stale_documents() -> int:
    """How many sessions' stored documents are not at their current revision."""
    return SessionDocument.objects.exclude(rendered_revision=F("revision")).count()


def make_busy_sessions(account, count: int) -> None:
    """`count` sessions, each under its own sub-customer and endpoint, with members and log."""
    top = CustomerFactory(account=account)
    for _ in range(count):
        customer = CustomerFactory(account=account, parent=top)
        session = CallSessionFactory(
            account=account, customer=customer, endpoint=EndpointFactory(account=account)
        )
        SessionMemberFactory.create_batch(2, session=session, application_data={"k": "v"})
        SessionEventFactory.create_batch(3, session=session)


@pytest.mark.parametrize("count", [1, 50])
def test_list_query_count_does_not_grow_with_the_sessions(
    api, account, count, django_assert_num_queries
):
    make_busy_sessions(account, count)

    with django_assert_num_queries(LIST_QUERIES_RENDERING):
        first = api.get(URL)  # no document stored yet
    with django_assert_num_queries(LIST_QUERIES):
        response = api.get(URL)
    forget_kept_documents()  # as another process, which has not read them yet
    with django_assert_num_queries(LIST_QUERIES_STORED):
        assert api.get(URL).content == response.content

    assert response.status_code == 200
    assert response.content == first.content
    sessions = response.json()["sessions"]
    assert len(sessions) == count
    assert all(len(s["members"]) == 3 and len(s["log"]) == 3 for s in sessions)
    assert all(len(s["customerBreadcrumb"]) == 2 for s in sessions)


@pytest.mark.parametrize("count", [1, 50])
def test_list_renders_again_only_what_changed_since(api, account, count, django_assert_num_queries):
    make_busy_sessions(account, count)
    api.get(URL)
    sessions = list(CallSession.objects.order_by("date_created"))
    first, last = sessions[0], sessions[-1]  # one and the same with one session
    # An API write answers the session's document, and stores it on the way.
    api.patch(f"/sessions/{first.id}", {"consoleData": "changed"}, format="json")
    assert stale_documents() == 0
    # A write that does not answer a document (here, straight into the table) leaves it to
    # the next reader.
    SessionEventFactory(session=last, message="written elsewhere")
    assert stale_documents() == 1

    with django_assert_num_queries(LIST_QUERIES_RENDERING):
        response = api.get(URL)

    assert stale_documents() == 0
    sessions = {s["id"]: s for s in response.json()["sessions"]}
    assert sessions[first.id]["consoleData"] == "changed"
    assert sessions[last.id]["log"][-1]["message"] == "written elsewhere"
    with django_assert_num_queries(LIST_QUERIES):
        assert api.get(URL).content == response.content


@pytest.mark.parametrize("count", [1, 50])
def test_list_query_count_with_filters_does_not_grow(
    api, account, count, django_assert_num_queries
):
    make_busy_sessions(account, count)
    top = Customer.objects.get(parent=None)
    query = {"accountId": account.id, "customerId": top.id, "startDate": "2000-01-01"}

    with django_assert_num_queries(LIST_QUERIES_RENDERING):
        api.get(URL, query)
    with django_assert_num_queries(LIST_QUERIES):
        response = api.get(URL, query)

    assert len(response.json()["sessions"]) == count


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_list_query_count_is_the_same_in_xml_and_csv(api, account, fmt, django_assert_num_queries):
    make_busy_sessions(account, 20)

    with django_assert_num_queries(LIST_QUERIES_RENDERING):
        api.get(URL, HTTP_ACCEPT=MEDIA_TYPES[fmt])
    with django_assert_num_queries(LIST_QUERIES):
        response = api.get(URL, HTTP_ACCEPT=MEDIA_TYPES[fmt])

    assert len(wire_sessions(response)) == 20


def test_the_list_query_is_prepared_once_and_still_counted(api, account, django_assert_num_queries):
    from django.db import connection

    make_busy_sessions(account, 3)
    api.get(URL)

    with django_assert_num_queries(LIST_QUERIES) as captured:
        api.get(URL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]

    [revisions] = [q["sql"] for q in captured.captured_queries if "document" in q["sql"]]
    assert any("sessiondocument" in statement for statement in prepared)
    assert "sessiondocument" in revisions
