"""The sessions app."""

from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    """Live call sessions: the models, the API and the portal."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions_app"
