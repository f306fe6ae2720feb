"""`services.customers`: moving a customer moves its whole subtree, in one transaction."""

import pytest

from sessions_app import services
from sessions_app.errors import ValidationFailed
from sessions_app.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(account):
    """north (top) > retail > kiosk, and south (top)."""
    north = CustomerFactory(account=account, name="North")
    retail = CustomerFactory(account=account, parent=north, name="Retail")
    kiosk = CustomerFactory(account=account, parent=retail, name="Kiosk")
    south = CustomerFactory(account=account, name="South")
    return north, retail, kiosk, south


def paths() -> dict[str, str]:
    return dict(Customer.objects.values_list("name", "path"))


def test_moving_a_customer_rewrites_its_subtree(tree):
    north, retail, kiosk, south = tree

    moved = services.customer_move(customer_id=retail.id, parent_id=south.id)

    assert moved.parent_id == south.id
    assert paths() == {
        "North": f"/{north.id}/",
        "South": f"/{south.id}/",
        "Retail": f"/{south.id}/{retail.id}/",
        "Kiosk": f"/{south.id}/{retail.id}/{kiosk.id}/",
    }


def test_moving_a_customer_to_the_top(tree):
    north, retail, kiosk, south = tree

    services.customer_move(customer_id=retail.id, parent_id=None)

    assert paths()["Kiosk"] == f"/{retail.id}/{kiosk.id}/"
    assert Customer.objects.get(pk=retail.id).parent_id is None


def test_the_active_sessions_filter_follows_a_move(tree, api, account):
    """A customer filter includes sub-customers by path: after a move, the moved subtree is
    found under its new parent and no longer under the old one."""
    from tests.factories import CallSessionFactory

    north, retail, kiosk, south = tree
    session = CallSessionFactory(account=account, customer=kiosk)

    services.customer_move(customer_id=retail.id, parent_id=south.id)

    def found_under(customer):
        response = api.get(f"/portal/active-sessions?customerId={customer.id}")
        return [s["id"] for s in response.json().get("sessions", [])]

    assert found_under(south) == [session.id]
    assert found_under(north) == []
    breadcrumb = api.get(f"/sessions/{session.id}").json()["customerBreadcrumb"]
    assert [crumb["name"] for crumb in breadcrumb] == ["South", "Retail", "Kiosk"]


@pytest.mark.parametrize("under", ["itself", "its own sub-customer"])
def test_a_customer_cannot_move_under_its_own_subtree(tree, under):
    north, retail, kiosk, south = tree
    before = paths()
    target = retail if under == "itself" else kiosk

    with pytest.raises(ValidationFailed, match="cannot move under itself"):
        services.customer_move(customer_id=retail.id, parent_id=target.id)

    assert paths() == before


def test_a_customer_cannot_move_to_another_account(tree, other_account):
    north, retail, kiosk, south = tree
    elsewhere = CustomerFactory(account=other_account)
    before = paths()

    with pytest.raises(ValidationFailed, match="same account"):
        services.customer_move(customer_id=retail.id, parent_id=elsewhere.id)

    assert paths() == before
