"""GET /sessions (ListSessions, Evo Voice's ListRequest<SessionInfo>): every filter, paging and
sorting, what each user may see, every format and route, and a query count that does not grow
with the size of the page."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from sessions_app import selectors
from sessions_app.api import listing
from sessions_app.models import CallState, EventKind, Role
from sessions_app.wire.contracts import NS_API, NS_SESSIONS, NS_XSI
from tests.conftest import api_client_as, db_state, error_status
from tests.factories import (
    AccountFactory,
    CallSessionFactory,
    CustomerFactory,
    EndpointFactory,
    SessionEventFactory,
    SessionMemberFactory,
    UserFactory,
)

URL = "/sessions"
ROOT = "ListResponseOfSessionInfoBWxtuWQa"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def paging(response) -> tuple[int, int, bool]:
    body = response.json()
    return body["totalCount"], body["totalPages"], body["hasMorePages"]


def sessions_at(account, count: int, **fields) -> list:
    """`count` sessions of `account`, one a minute from T0 on: oldest first."""
    return [
        CallSessionFactory(account=account, date_created=T0 + timedelta(minutes=m), **fields)
        for m in range(count)
    ]


def newest_first(sessions) -> list[str]:
    return [s.id for s in sorted(sessions, key=lambda s: (s.date_created, s.id), reverse=True)]


# --- what it lists ----------------------------------------------------------------------------


def test_lists_the_users_sessions_newest_first_ended_ones_included(api, account):
    live = sessions_at(account, 3)
    ended = CallSessionFactory(
        account=account, call_state=CallState.DISCONNECTED, date_created=T0 - timedelta(hours=1)
    )

    response = api.get(URL)

    assert ids(response) == newest_first(live) + [ended.id]
    assert paging(response) == (4, 1, False)
    assert response.json()["items"][-1]["ended"] is True


def test_a_session_ended_through_the_api_is_listed(api, session):
    api.delete(f"/sessions/{session.id}")

    [item] = api.get(URL).json()["items"]
    assert (item["id"], item["callState"], item["ended"]) == (session.id, "Disconnected", True)


def test_never_lists_another_accounts_sessions(api, session, other_account):
    CallSessionFactory(account=other_account)

    assert ids(api.get(URL)) == [session.id]


def test_a_system_administrator_sees_every_account(account, other_account):
    admin = UserFactory(role=Role.SYSTEM_ADMINISTRATOR)
    sessions = [CallSessionFactory(account=a) for a in (account, other_account)]

    assert set(ids(api_client_as(admin).get(URL))) == {s.id for s in sessions}


def test_a_user_with_no_accounts_sees_nothing(db):
    CallSessionFactory()

    response = api_client_as(UserFactory(accounts=[])).get(URL)

    assert response.json() == {"items": [], "totalCount": 0, "totalPages": 0, "hasMorePages": False}


def test_session_info_is_the_same_as_get_sessions(api, complete_session):
    [item] = api.get(URL).json()["items"]

    assert item == api.get(f"/sessions/{complete_session.id}").json()


def test_listing_changes_nothing(api, session):
    before = db_state()

    api.get(URL, {"Log": "x", "SimplifiedPaging": "true"})

    assert db_state() == before


# --- filters ----------------------------------------------------------------------------------


def test_account_ids_comma_separated_or_repeated(account, other_account):
    third = AccountFactory()
    user = UserFactory(accounts=[account, other_account, third])
    mine, theirs, _ = (CallSessionFactory(account=a) for a in (account, other_account, third))
    client = api_client_as(user)
    expected = {mine.id, theirs.id}

    assert set(ids(client.get(URL, {"AccountIds": f"{account.id},{other_account.id}"}))) == expected
    assert set(ids(client.get(f"{URL}?accountIds={account.id}&AccountIds={other_account.id}"))) == (
        expected
    )
    assert set(ids(client.get(URL, {"AccountIds": f"[{account.id}, {other_account.id}]"}))) == (
        expected
    )


def test_account_ids_in_a_json_body(account, other_account):
    user = UserFactory(accounts=[account, other_account])
    mine = CallSessionFactory(account=account)
    CallSessionFactory(account=other_account)

    response = api_client_as(user).post(
        "/api/ListSessions", {"accountIds": [account.id]}, format="json"
    )

    assert ids(response) == [mine.id]


def test_account_ids_in_an_xml_body(api, account, session):
    body = (
        f'<ListSessions xmlns:i="{NS_XSI}" xmlns="{NS_SESSIONS}">'
        f'<AccountIds xmlns:d2p1="http://schemas.microsoft.com/2003/10/Serialization/Arrays">'
        f"<d2p1:string>{account.id}</d2p1:string><d2p1:string>nope</d2p1:string></AccountIds>"
        "<CountPerPage>5</CountPerPage></ListSessions>"
    )

    response = api.post("/json/reply/ListSessions", body, content_type="application/xml")

    assert ids(response) == [session.id]


def test_an_account_the_user_may_not_see_matches_nothing(api, session, other_account):
    CallSessionFactory(account=other_account)

    assert ids(api.get(URL, {"AccountIds": other_account.id})) == []
    assert ids(api.get(URL, {"AccountIds": f"{other_account.id},{session.account_id}"})) == [
        session.id
    ]


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
    ("customers", "expected"),
    [
        (["top"], {"top", "child", "grandchild", "sibling"}),
        (["child"], {"child", "grandchild"}),
        (["grandchild"], {"grandchild"}),
        (["grandchild", "sibling"], {"grandchild", "sibling"}),
    ],
)
def test_customer_ids_include_their_sub_customers(api, customer_tree, session, customers, expected):
    wanted = ",".join(customer_tree[name][0].id for name in customers)

    response = api.get(URL, {"CustomerIds": wanted})

    assert set(ids(response)) == {customer_tree[name][1].id for name in expected}


def test_another_accounts_customer_matches_nothing(api, session, other_account):
    customer = CustomerFactory(account=other_account)
    CallSessionFactory(account=other_account, customer=customer)

    assert ids(api.get(URL, {"CustomerIds": customer.id})) == []


def test_endpoint_ids(api, account):
    first, second = EndpointFactory(account=account), EndpointFactory(account=account)
    on_first = CallSessionFactory(account=account, endpoint=first)
    on_second = CallSessionFactory(account=account, endpoint=second)
    CallSessionFactory(account=account)

    assert ids(api.get(URL, {"EndpointIds": first.id})) == [on_first.id]
    assert set(ids(api.get(URL, {"EndpointIds": f"{first.id},{second.id}"}))) == {
        on_first.id,
        on_second.id,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"StartDate": "2026-03-01T12:00:00Z"}, {"noon", "evening"}),  # inclusive
        ({"EndDate": "2026-03-01T12:00:00Z"}, {"morning", "noon"}),  # inclusive
        ({"StartDate": "2026-03-01T07:00:00Z", "EndDate": "2026-03-01T19:00:00Z"}, {"noon"}),
        ({"EndDate": "2026-03-01"}, set()),  # a date alone is its midnight, UTC
        ({"StartDate": "2026-03-01", "EndDate": "2026-03-02"}, {"morning", "noon", "evening"}),
        ({"StartDate": "/Date(1772366400000)/"}, {"noon", "evening"}),  # 12:00 UTC
        ({"EndDate": "/Date(1772366400000)/"}, {"morning", "noon"}),
        ({"StartDate": "/Date(1772366400000-0500)/"}, {"noon", "evening"}),  # same instant
        ({"EndDate": "/Date(1772366399999+0200)/"}, {"morning"}),
        ({"StartDate": "\\/Date(1772366401000)\\/"}, {"evening"}),
    ],
)
def test_start_and_end_dates(api, account, params, expected):
    sessions = {
        name: CallSessionFactory(
            account=account, date_created=datetime(2026, 3, 1, hour, tzinfo=UTC)
        )
        for name, hour in {"morning": 6, "noon": 12, "evening": 20}.items()
    }

    response = api.get(URL, params)

    assert set(ids(response)) == {sessions[name].id for name in expected}


@pytest.mark.parametrize("field", ["StartDate", "EndDate"])
@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "/Date(abc)/"])
def test_a_bad_date_is_400_naming_the_field(api, session, field, value):
    response = api.get(URL, {field: value})

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "InvalidDate"
    assert [e["fieldName"] for e in status["errors"]] == [field]


def test_from_and_to_contain_ignoring_case(api, account):
    alice = CallSessionFactory(account=account, from_address="sip:Alice@Example.com")
    bob = CallSessionFactory(
        account=account, from_address="+15551230000", to_address="+15559990000"
    )

    assert ids(api.get(URL, {"From": "alice@example"})) == [alice.id]
    assert ids(api.get(URL, {"From": "555123"})) == [bob.id]
    assert ids(api.get(URL, {"To": "5559990"})) == [bob.id]
    assert ids(api.get(URL, {"From": "alice", "To": "5559990"})) == []


def test_log_matches_the_rendered_log_text_ignoring_case(api, account):
    held = CallSessionFactory(account=account)
    SessionEventFactory(session=held, kind=EventKind.RESUMED, data={}, actor_name="bob", via="api")
    noted = CallSessionFactory(account=account)
    SessionEventFactory(session=noted, message="Customer asked for a REFUND")
    CallSessionFactory(account=account)

    # "Resumed from hold by bob via API": words of the sentence, of the actor and of the way
    assert ids(api.get(URL, {"Log": "resumed from HOLD"})) == [held.id]
    assert ids(api.get(URL, {"Log": "by bob via api"})) == [held.id]
    assert ids(api.get(URL, {"Log": "refund"})) == [noted.id]
    assert ids(api.get(URL, {"Log": "nothing like this"})) == []


def test_log_never_reads_another_accounts_sessions(api, session, other_account):
    theirs = CallSessionFactory(account=other_account)
    SessionEventFactory(session=theirs, message="secret words")

    assert ids(api.get(URL, {"Log": "secret"})) == []


def test_log_refuses_to_search_too_many_sessions(api, account, monkeypatch):
    monkeypatch.setattr(selectors, "LOG_SEARCH_MAX_SESSIONS", 2)
    sessions_at(account, 3)

    response = api.get(URL, {"Log": "x"})

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "TooManyToSearch"
    assert [e["fieldName"] for e in status["errors"]] == ["Log"]
    # narrowed first, it searches
    assert (
        api.get(URL, {"Log": "x", "CountPerPage": 1, "EndDate": T0.isoformat()}).status_code == 200
    )


def test_parent_session_id_matches_nothing_as_sessions_have_no_parent(api, session):
    assert ids(api.get(URL, {"ParentSessionId": session.id})) == []
    assert ids(api.get(URL, {"ParentSessionId": ""})) == [session.id]


def test_specific_ids(api, account, other_account):
    first, second, _ = sessions_at(account, 3)
    theirs = CallSessionFactory(account=other_account)

    response = api.get(URL, {"SpecificIds": f"{first.id},{second.id},{theirs.id},nope"})

    assert ids(response) == [second.id, first.id]


def test_filters_combine(api, account):
    endpoint = EndpointFactory(account=account)
    match = CallSessionFactory(account=account, endpoint=endpoint, from_address="+1555000111")
    CallSessionFactory(account=account, endpoint=endpoint, from_address="+1555000222")
    CallSessionFactory(account=account, from_address="+1555000111")

    response = api.get(URL, {"EndpointIds": endpoint.id, "From": "111", "AccountIds": account.id})

    assert ids(response) == [match.id]


# --- paging -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "expected", "more"),
    [
        (0, slice(0, 2), True),
        (1, slice(2, 4), True),
        (2, slice(4, 5), False),
        (3, slice(0, 0), False),
    ],
)
def test_pages(api, account, page, expected, more):
    order = newest_first(sessions_at(account, 5))

    response = api.get(URL, {"Page": page, "CountPerPage": 2})

    assert ids(response) == order[expected]
    assert paging(response) == (5, 3, more)


def test_count_per_page_defaults_to_25(api, account):
    sessions_at(account, 26)

    response = api.get(URL)

    assert len(ids(response)) == 25
    assert paging(response) == (26, 2, True)


def test_count_per_page_0_is_the_default(api, account):
    sessions_at(account, 26)

    assert len(ids(api.get(URL, {"CountPerPage": 0}))) == 25


def test_pages_never_overlap_when_sessions_share_a_date(api, account):
    sessions = [CallSessionFactory(account=account, date_created=T0) for _ in range(5)]

    seen = [i for page in range(3) for i in ids(api.get(URL, {"Page": page, "CountPerPage": 2}))]

    assert sorted(seen) == sorted(s.id for s in sessions)


def test_simplified_paging_counts_nothing_and_peeks_one_row(api, account):
    order = newest_first(sessions_at(account, 4))

    first = api.get(URL, {"CountPerPage": 2, "SimplifiedPaging": "TRUE"})
    last = api.get(URL, {"Page": 1, "CountPerPage": 2, "simplifiedPaging": "true"})

    assert (ids(first), paging(first)) == (order[:2], (0, 0, True))
    assert (ids(last), paging(last)) == (order[2:], (0, 0, False))


def test_all_lists_every_match_in_one_page(api, account):
    order = newest_first(sessions_at(account, 30))

    response = api.get(URL, {"All": "true", "CountPerPage": 2, "Page": 3})

    assert ids(response) == order
    assert paging(response) == (30, 1, False)


def test_all_refuses_more_than_its_cap(api, account, monkeypatch):
    monkeypatch.setattr(listing, "MAX_ALL", 2)
    sessions_at(account, 3)

    response = api.get(URL, {"All": "true"})

    assert response.status_code == 400
    assert error_status(response)["errorCode"] == "TooManyResults"


def test_all_is_still_scoped(api, session, other_account):
    CallSessionFactory(account=other_account)

    assert ids(api.get(URL, {"All": "true"})) == [session.id]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"CountPerPage": 1001}, "CountPerPage", "InclusiveBetween"),
        ({"CountPerPage": -1}, "CountPerPage", "InclusiveBetween"),
        ({"Page": -1}, "Page", "GreaterThanOrEqual"),
        ({"Page": "two"}, "Page", "InvalidType"),
        ({"Page": "1.5"}, "Page", "InvalidType"),
        ({"CountPerPage": "99999999999999"}, "CountPerPage", "InvalidType"),
        ({"All": "maybe"}, "All", "InvalidType"),
        ({"SimplifiedPaging": "yes"}, "SimplifiedPaging", "InvalidType"),
        ({"SortOrder": "Sideways"}, "SortOrder", "InvalidEnum"),
    ],
)
def test_bad_paging_is_400_naming_the_field(api, session, params, field, code):
    response = api.get(URL, params)

    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == code
    assert [e["fieldName"] for e in status["errors"]] == [field]


def test_every_bad_field_is_named_in_one_400(api, session):
    response = api.get(URL, {"Page": -1, "CountPerPage": 5000, "SortField": "Password"})

    assert response.status_code == 400
    fields = [e["fieldName"] for e in error_status(response)["errors"]]
    assert fields == ["Page", "CountPerPage", "SortField"]


def test_integers_in_a_json_body(api, account):
    order = newest_first(sessions_at(account, 3))

    response = api.post("/api/ListSessions", {"page": 1, "countPerPage": 2}, format="json")

    assert ids(response) == order[2:]


# --- sorting ----------------------------------------------------------------------------------


def test_sort_by_date_created_ascending(api, account):
    order = newest_first(sessions_at(account, 3))

    assert ids(api.get(URL, {"SortOrder": "Ascend"})) == order[::-1]
    assert ids(api.get(URL, {"SortField": "dateCreated", "SortOrder": "descend"})) == order


@pytest.mark.parametrize(
    ("order", "expected"), [("Ascend", ["a", "b", "c"]), ("Descend", ["c", "b", "a"])]
)
def test_sort_by_from_address_both_ways(api, account, order, expected):
    sessions = {
        name: CallSessionFactory(account=account, from_address=f"+1{name}", date_created=T0)
        for name in ("b", "c", "a")
    }

    response = api.get(URL, {"SortField": "FromAddress", "SortOrder": order})

    assert ids(response) == [sessions[name].id for name in expected]


def test_sort_by_a_joined_name(account, other_account):
    account.name, other_account.name = "Zeta", "Alpha"
    account.save(), other_account.save()
    user = UserFactory(accounts=[account, other_account])
    zeta, alpha = CallSessionFactory(account=account), CallSessionFactory(account=other_account)

    response = api_client_as(user).get(URL, {"SortField": "AccountName", "SortOrder": "Ascend"})

    assert ids(response) == [alpha.id, zeta.id]


@pytest.mark.parametrize("field", ["Password", "account__users__password", "Log", "-id", ""])
def test_a_sort_field_not_listed_is_400(api, session, field):
    response = api.get(URL, {"SortField": field or " "})

    if not field:  # blank is the default
        assert response.status_code == 200
        return
    assert response.status_code == 400
    status = error_status(response)
    assert status["errorCode"] == "InvalidSortField"
    assert [e["fieldName"] for e in status["errors"]] == ["SortField"]
    assert "DateCreated" in status["message"]


# --- formats and routes -----------------------------------------------------------------------


def test_json_shape(api, account):
    sessions_at(account, 2)

    body = api.get(URL, {"CountPerPage": 1}).json()

    assert list(body) == ["items", "totalCount", "totalPages", "hasMorePages"]
    assert (body["totalCount"], body["totalPages"], body["hasMorePages"]) == (2, 2, True)
    assert body["items"][0]["accountId"] == account.id


def test_xml_shape(api, account):
    newest = sessions_at(account, 2)[-1]

    response = api.get(URL, {"CountPerPage": 1}, HTTP_ACCEPT="application/xml")

    assert response["Content-Type"].startswith("application/xml")
    text = response.content.decode()
    assert text.startswith(
        f'<?xml version="1.0" encoding="utf-8"?><{ROOT} xmlns:i="{NS_XSI}" xmlns="{NS_API}">'
        f'<HasMorePages>true</HasMorePages><Items xmlns:d2p1="{NS_SESSIONS}"><d2p1:SessionInfo>'
        # EntityInfo's members first, in the root's namespace (Voice.Api), then SessionInfo's
        '<CreatedBy i:nil="true" /><DateCreated>'
    )
    assert f"<Id>{newest.id}</Id><LastModifiedBy" in text
    assert text.endswith(
        f"</d2p1:SessionInfo></Items><TotalCount>2</TotalCount><TotalPages>2</TotalPages></{ROOT}>"
    )
    root = ElementTree.fromstring(response.content)
    [items] = root.findall(f"{{{NS_API}}}Items")
    [item] = items
    assert item.tag == f"{{{NS_SESSIONS}}}SessionInfo"
    assert item.find(f"{{{NS_SESSIONS}}}AccountName").text == "Acme"


def test_xml_of_an_empty_page(api, session):
    response = api.get(URL, {"Page": 5}, format="xml", HTTP_ACCEPT="application/xml")

    assert f'<Items xmlns:d2p1="{NS_SESSIONS}"></Items><TotalCount>1</TotalCount>' in (
        response.content.decode()
    )


def test_csv_is_the_rows_of_the_items(api, account):
    order = newest_first(sessions_at(account, 3))

    response = api.get(f"{URL}.csv", {"CountPerPage": 2})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["Id"] for row in rows] == order[:2]
    assert "TotalCount" not in rows[0]
    assert rows[0]["AccountName"] == "Acme"


@pytest.mark.parametrize(
    ("method", "route", "media_type"),
    [
        ("get", "/sessions?CountPerPage=1", "application/json"),
        ("get", "/sessions.json?CountPerPage=1", "application/json"),
        ("get", "/sessions.xml?CountPerPage=1", "application/xml"),
        ("get", "/sessions.csv?CountPerPage=1", "text/csv"),
        ("get", "/sessions?CountPerPage=1&format=xml", "application/xml"),
        ("get", "/api/ListSessions?CountPerPage=1", "application/json"),
        ("get", "/json/reply/ListSessions?CountPerPage=1", "application/json"),
        ("get", "/xml/reply/ListSessions?CountPerPage=1", "application/xml"),
        ("post", "/api/ListSessions", "application/json"),
        ("post", "/json/reply/ListSessions", "application/json"),
    ],
)
def test_each_route(api, account, method, route, media_type):
    newest = sessions_at(account, 2)[-1]

    if method == "get":  # the query string is the route's
        response = api.get(route)
    else:
        response = api.post(route, {"countPerPage": 1}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith(media_type)
    assert newest.id.encode() in response.content
    if media_type == "application/json":
        assert json.loads(response.content)["totalCount"] == 2


def test_other_verbs_are_405(api):
    assert api.post(URL).status_code == 405
    assert api.delete(URL).status_code == 405


def test_needs_authentication(anon_api):
    assert anon_api.get(URL).status_code == 401


def test_a_batch_of_list_requests(api, account):
    sessions_at(account, 3)

    response = api.post(
        "/api/ListSessions[]", [{"countPerPage": 1}, {"page": 0, "countPerPage": 2}], format="json"
    )

    assert response.status_code == 200
    assert [len(page["items"]) for page in response.json()] == [1, 2]


# --- query count ------------------------------------------------------------------------------

# GET /sessions costs a fixed number of queries, whatever the size of the page:
#   1. authentication: the user by username (HTTP Basic)
#   2. the ids of the user's accounts (as values, so that PostgreSQL reads a page off the index)
#   3. the count of the matching sessions
#   4. the page's sessions, joined to account, customer and endpoint (their ids in a subquery
#      with the LIMIT and OFFSET)
#   5. the members of the page's sessions
#   6. the log events of the page's sessions
#   7. the names of every customer in any session's breadcrumb
PAGE_QUERIES = 7


def make_busy_sessions(account, count: int) -> None:
    """`count` sessions, each under its own sub-customer and endpoint, with members and log."""
    top = CustomerFactory(account=account)
    for minute in range(count):
        customer = CustomerFactory(account=account, parent=top)
        session = CallSessionFactory(
            account=account,
            customer=customer,
            endpoint=EndpointFactory(account=account),
            date_created=T0 + timedelta(minutes=minute),
        )
        SessionMemberFactory.create_batch(2, session=session, application_data={"k": "v"})
        SessionEventFactory.create_batch(3, session=session)


@pytest.mark.parametrize("count_per_page", [5, 50])
def test_query_count_is_the_same_for_pages_of_5_and_50(
    api, account, count_per_page, django_assert_num_queries
):
    make_busy_sessions(account, 60)

    with django_assert_num_queries(PAGE_QUERIES):
        response = api.get(URL, {"CountPerPage": count_per_page, "Page": 1})

    items = response.json()["items"]
    assert len(items) == (5 if count_per_page == 5 else 10)
    assert all(len(s["members"]) == 3 and len(s["log"]) == 3 for s in items)
    assert all(len(s["customerBreadcrumb"]) == 2 for s in items)


@pytest.mark.parametrize("count_per_page", [5, 50])
def test_query_count_with_every_filter_does_not_grow(
    api, account, count_per_page, django_assert_num_queries
):
    make_busy_sessions(account, 60)
    top = selectors.Customer.objects.get(parent=None)
    params = {
        "CountPerPage": count_per_page,
        "AccountIds": account.id,
        "CustomerIds": top.id,
        "StartDate": "2000-01-01",
        "EndDate": "2100-01-01",
        "From": "+1",
        "To": "+1",
        "SortField": "CustomerName",
        "SortOrder": "Ascend",
    }

    with django_assert_num_queries(PAGE_QUERIES):
        response = api.get(URL, params)

    assert len(response.json()["items"]) == count_per_page


@pytest.mark.parametrize("count_per_page", [5, 50])
def test_query_count_of_simplified_paging_has_no_count(
    api, account, count_per_page, django_assert_num_queries
):
    make_busy_sessions(account, 60)

    # the same, but the count
    with django_assert_num_queries(PAGE_QUERIES - 1):
        response = api.get(URL, {"CountPerPage": count_per_page, "SimplifiedPaging": "true"})

    assert len(response.json()["items"]) == count_per_page


@pytest.mark.parametrize("count_per_page", [5, 50])
def test_query_count_of_a_log_search_does_not_grow(
    api, account, count_per_page, django_assert_num_queries
):
    make_busy_sessions(account, 60)

    # and two for the search: the candidates' ids, then their events
    with django_assert_num_queries(PAGE_QUERIES + 2):
        response = api.get(URL, {"CountPerPage": count_per_page, "Log": "log line"})

    assert len(response.json()["items"]) == count_per_page


def test_query_count_is_the_same_in_xml_and_csv(api, account, django_assert_num_queries):
    make_busy_sessions(account, 20)

    for fmt in ("xml", "csv"):
        with django_assert_num_queries(PAGE_QUERIES):
            response = api.get(f"{URL}.{fmt}", {"CountPerPage": 10})
        assert response.status_code == 200


def test_now_is_listed(api, account):
    """A session created now (not in T0's past) is first: the default order is newest first."""
    sessions_at(account, 2)
    now = CallSessionFactory(account=account, date_created=timezone.now())

    assert ids(api.get(URL))[0] == now.id
