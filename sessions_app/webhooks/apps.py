"""The webhooks app, nested in the sessions app (label `webhooks`)."""

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhook subscriptions, their deliveries and every attempt."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
