"""The process's telephony provider, wired to report into the inbox."""

from functools import cache

from sessions_app.telephony import TelephonyProvider, build_provider

from .inbox import provider_report_receive


@cache
def get_provider() -> TelephonyProvider:
    """The configured provider (settings.TELEPHONY_PROVIDER), one instance per process; what
    happens later at the provider comes back through `inbox.provider_report_receive`."""
    return build_provider(report=provider_report_receive)
