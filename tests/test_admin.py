"""The Django admin covers every model and its pages load."""

import pytest
from django.apps import apps
from django.contrib import admin

from sessions_app.models import (
    ActionInFlight,
    Customer,
    IdempotencyKey,
    ProviderInboxEntry,
    Role,
    Via,
)
from tests.factories import (
    AccountFactory,
    CallSessionFactory,
    CustomerFactory,
    SessionEventFactory,
    UserFactory,
)

MODELS = list(apps.get_app_config("sessions_app").get_models())


def test_every_model_is_registered():
    assert [m for m in MODELS if not admin.site.is_registered(m)] == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_pages_load(client, db, model):
    staff = UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    session = CallSessionFactory()
    SessionEventFactory(session=session)
    ActionInFlight.objects.create(session=session, action="hold", actor_name="", via=Via.SYSTEM)
    ProviderInboxEntry.objects.create(
        provider="test", event_id="e1", call_sid=session.call_sid, kind="answered"
    )
    IdempotencyKey.objects.create(user=staff, key="k1", fingerprint="f" * 64)
    client.force_login(staff)
    opts = model._meta
    assert client.get(f"/admin/{opts.app_label}/{opts.model_name}/").status_code == 200
    obj = model.objects.first()
    if obj is not None:
        url = f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/change/"
        assert client.get(url).status_code == 200


def test_changing_a_customers_parent_in_the_admin_moves_its_subtree(client, db):
    staff = UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    account = AccountFactory()
    north = CustomerFactory(account=account, name="North")
    south = CustomerFactory(account=account, name="South")
    retail = CustomerFactory(account=account, parent=north, name="Retail")
    kiosk = CustomerFactory(account=account, parent=retail, name="Kiosk")
    client.force_login(staff)

    response = client.post(
        f"/admin/sessions_app/customer/{retail.pk}/change/",
        {"account": account.pk, "parent": south.pk, "name": "Retail (south)"},
    )

    assert response.status_code == 302, response.content
    retail.refresh_from_db()
    assert (retail.name, retail.parent_id) == ("Retail (south)", south.pk)
    assert Customer.objects.get(pk=kiosk.pk).path == f"/{south.pk}/{retail.pk}/{kiosk.pk}/"
