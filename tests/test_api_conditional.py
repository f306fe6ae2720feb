"""Conditional requests on a session: its `SessionInfo` carries an `ETag` (the session's version
and the names it shows); `If-None-Match` on a read answers 304; `If-Match` on a write that no
longer matches answers 412 and changes nothing."""

import pytest

from sessions_app.models import CallState, Customer
from tests.conftest import db_state, error_status, wire_fields
from tests.factories import CustomerFactory


def etag_of(api, session) -> str:
    response = api.get(f"/sessions/{session.id}")
    assert response.status_code == 200
    return response["ETag"]


def test_a_session_read_carries_a_strong_etag(api, session):
    etag = etag_of(api, session)

    assert etag.startswith('"') and etag.endswith('"')
    assert etag_of(api, session) == etag  # stable while nothing changes


@pytest.mark.parametrize("method", ["get", "head"])
def test_if_none_match_with_the_current_etag_is_304_without_a_body(
    api, session, method, django_assert_num_queries
):
    etag = etag_of(api, session)

    # The user (Basic), then the session's version and names: no SessionInfo is built.
    with django_assert_num_queries(2):
        response = getattr(api, method)(f"/sessions/{session.id}", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_head_answers_the_headers_of_a_get_without_its_body(api, session):
    got = api.get(f"/sessions/{session.id}")

    head = api.head(f"/sessions/{session.id}")

    assert head.status_code == 200
    assert head.content == b""
    assert (head["ETag"], head["Content-Type"]) == (got["ETag"], got["Content-Type"])


def test_if_none_match_star_is_304_for_a_session_that_exists(api, session):
    assert api.get(f"/sessions/{session.id}", HTTP_IF_NONE_MATCH="*").status_code == 304


def test_if_none_match_of_a_session_not_yours_is_404(api, other_account):
    from tests.factories import CallSessionFactory

    theirs = CallSessionFactory(account=other_account)

    response = api.get(f"/sessions/{theirs.id}", HTTP_IF_NONE_MATCH="*")

    assert response.status_code == 404


def test_every_change_makes_a_new_etag(api, session):
    before = etag_of(api, session)

    held = api.post(f"/sessions/{session.id}/hold", {}, format="json")

    assert held.status_code == 200
    assert held["ETag"] != before
    assert etag_of(api, session) == held["ETag"]  # the write's answer is the new version
    response = api.get(f"/sessions/{session.id}", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert wire_fields(response)["CallState"] == "Hold"


def test_renaming_the_customer_makes_a_new_etag(api, account, session):
    """The breadcrumb shows the customer's name: a cache must not keep the old one."""
    customer = CustomerFactory(account=account, name="Old name")
    session.customer = customer
    session.save(update_fields=["customer"])
    before = etag_of(api, session)

    Customer.objects.filter(pk=customer.pk).update(name="New name")

    response = api.get(f"/sessions/{session.id}", HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response["ETag"] != before


def test_if_match_with_the_current_etag_writes(api, session):
    etag = etag_of(api, session)

    response = api.patch(
        f"/sessions/{session.id}", {"consoleData": "checked"}, format="json", HTTP_IF_MATCH=etag
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert session.console_data == "checked"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "/sessions/{id}", {"consoleData": "mine"}),
        ("post", "/sessions/{id}/hold", {"reason": "Transferring"}),
        ("post", "/sessions/{id}/conference/members", {"destination": "+15557654321"}),
        ("delete", "/sessions/{id}", None),
    ],
)
def test_if_match_with_a_stale_etag_is_412_and_changes_nothing(api, session, method, path, body):
    stale = etag_of(api, session)
    api.patch(f"/sessions/{session.id}", {"consoleData": "someone else's"}, format="json")
    current = etag_of(api, session)
    state = db_state()

    response = getattr(api, method)(
        path.format(id=session.id), body, format="json", HTTP_IF_MATCH=stale
    )

    assert response.status_code == 412
    status = error_status(response)
    assert status["errorCode"] == "PreconditionFailed"
    assert current in status["message"]
    assert response["ETag"] == current
    assert db_state() == state


def test_if_match_star_or_a_list_holding_the_current_etag_writes(api, session):
    current = etag_of(api, session)

    starred = api.post(f"/sessions/{session.id}/hold", {}, format="json", HTTP_IF_MATCH="*")
    assert starred.status_code == 200
    listed = api.patch(
        f"/sessions/{session.id}",
        {"callState": "Connected"},
        format="json",
        HTTP_IF_MATCH=f'"0-00000000", {starred["ETag"]}',
    )

    assert listed.status_code == 200
    session.refresh_from_db()
    assert session.call_state == CallState.CONNECTED
    assert current != starred["ETag"] != listed["ETag"]


def test_a_weak_etag_never_matches_a_write(api, session):
    """`If-Match` compares strongly (RFC 9110): `W/` is never the version a write checked."""
    weak = "W/" + etag_of(api, session)

    response = api.patch(
        f"/sessions/{session.id}", {"consoleData": "x"}, format="json", HTTP_IF_MATCH=weak
    )

    assert response.status_code == 412


def test_a_stale_if_match_on_a_read_is_412_with_the_error_body(api, session):
    stale = etag_of(api, session)
    api.patch(f"/sessions/{session.id}", {"consoleData": "changed"}, format="json")

    response = api.get(f"/sessions/{session.id}", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert error_status(response)["errorCode"] == "PreconditionFailed"
