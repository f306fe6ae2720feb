"""The Django admin covers every model and its pages load."""

import pytest
from django.apps import apps
from django.contrib import admin

from sessions_app.models import Role
from tests.factories import CallSessionFactory, SessionEventFactory, UserFactory

MODELS = list(apps.get_app_config("sessions_app").get_models())


def test_every_model_is_registered():
    assert [m for m in MODELS if not admin.site.is_registered(m)] == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_pages_load(client, db, model):
    staff = UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    session = CallSessionFactory()
    SessionEventFactory(session=session)
    client.force_login(staff)
    opts = model._meta
    assert client.get(f"/admin/{opts.app_label}/{opts.model_name}/").status_code == 200
    obj = model.objects.first()
    if obj is not None:
        url = f"/admin/{opts.app_label}/{opts.model_name}/{obj.pk}/change/"
        assert client.get(url).status_code == 200
