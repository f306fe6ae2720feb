"""The telephony provider: the only way the app touches real calls."""

from django.conf import settings
from django.utils.module_loading import import_string

from .base import (
    HoldResult,
    ProviderReport,
    ReportKind,
    ReportSink,
    TelephonyError,
    TelephonyProvider,
)

__all__ = [
    "HoldResult",
    "ProviderReport",
    "ReportKind",
    "ReportSink",
    "TelephonyError",
    "TelephonyProvider",
    "build_provider",
]


def build_provider(report: ReportSink) -> TelephonyProvider:
    """The configured provider (settings.TELEPHONY_PROVIDER, a dotted path), reporting what
    happens at the provider to `report`."""
    return import_string(settings.TELEPHONY_PROVIDER)(report=report)
