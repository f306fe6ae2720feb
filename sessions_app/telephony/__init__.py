"""The telephony provider: the only way the app touches real calls."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from .base import HoldResult, TelephonyError, TelephonyProvider

__all__ = ["HoldResult", "TelephonyError", "TelephonyProvider", "get_provider"]


@cache
def get_provider() -> TelephonyProvider:
    """The configured provider (settings.TELEPHONY_PROVIDER), one instance per process."""
    return import_string(settings.TELEPHONY_PROVIDER)()
