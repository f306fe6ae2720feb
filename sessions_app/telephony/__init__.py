"""The telephony provider: the only way the app touches real calls."""

from django.conf import settings
from django.utils.module_loading import import_string

from .base import (
    CallStatus,
    FailureKind,
    HoldResult,
    MonitorMode,
    ProviderReport,
    ReportKind,
    ReportSink,
    TelephonyError,
    TelephonyProvider,
)

__all__ = [
    "PROVIDER_ALIASES",
    "CallStatus",
    "FailureKind",
    "HoldResult",
    "MonitorMode",
    "ProviderReport",
    "ReportKind",
    "ReportSink",
    "TelephonyError",
    "TelephonyProvider",
    "build_provider",
    "provider_path",
]

# Short names for TELEPHONY_PROVIDER; any other value is a dotted path to a provider class.
PROVIDER_ALIASES = {
    "simulated": "sessions_app.telephony.simulated.SimulatedProvider",
    "twilio": "sessions_app.telephony.twilio.TwilioProvider",
}


def provider_path(value: str) -> str:
    """The dotted path of the provider class TELEPHONY_PROVIDER names (an alias or a path)."""
    return PROVIDER_ALIASES.get(value.strip().lower(), value.strip())


def build_provider(report: ReportSink) -> TelephonyProvider:
    """The configured provider (settings.TELEPHONY_PROVIDER: `simulated`, `twilio` or a
    dotted path), reporting what happens at the provider to `report`."""
    return import_string(provider_path(settings.TELEPHONY_PROVIDER))(report=report)
