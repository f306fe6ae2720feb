"""The admin shows the webhook models read-only, and never a secret."""

import pytest
from django.apps import apps

from sessions_app import services
from sessions_app.models import Role, Via
from sessions_app.webhooks import services as webhook_services
from tests.factories import UserFactory
from tests.webhooks.conftest import subscribe

MODELS = list(apps.get_app_config("webhooks").get_models())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_admin_pages_load_read_only_without_the_secret(client, manager, session, model):
    webhook = subscribe(manager, "https://example.com/")
    services.session_hold(actor=services.Actor(user=None, via=Via.API), session_id=session.id)
    webhook_services.deliveries_queue(webhook.id)
    [claimed] = webhook_services.deliveries_claim()
    webhook_services.delivery_record(
        claimed, webhook_services.AttemptOutcome(started=session.date_created, duration_ms=3)
    )
    client.force_login(
        UserFactory(role=Role.SYSTEM_ADMINISTRATOR, is_staff=True, is_superuser=True)
    )
    opts = model._meta

    listing = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
    page = client.get(
        f"/admin/{opts.app_label}/{opts.model_name}/{model.objects.first().pk}/change/"
    )

    assert listing.status_code == page.status_code == 200
    assert webhook.secret not in listing.content.decode() + page.content.decode()
    assert b'name="_save"' not in page.content  # nothing to save: read-only
