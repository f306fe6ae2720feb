"""The provider interface: what the services ask of a telephony platform, and what it reports.

The services call a provider with no database transaction open (see `services.unit`), so a
slow provider never holds a row lock or a pooled connection. Every method either does the
thing or raises TelephonyError. What happens later at the provider (a call answered, a leg hung
up) comes back as `ProviderReport`s handed to the `report` callable the provider was built
with; the services store and apply them (`services.inbox`). Providers import nothing from the
services.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class TelephonyError(Exception):
    """The provider refused or failed; the message is fit to show a user."""


@dataclass(frozen=True)
class HoldResult:
    """Where the provider parked a held call."""

    queue_name: str


class ReportKind(StrEnum):
    """What a provider can tell us about one call leg (Twilio's call statuses and conference
    participant events, generalised)."""

    RINGING = "ringing"
    ANSWERED = "answered"  # data: answered_by_name, answered_by_id (the session's own leg)
    COMPLETED = "completed"  # hung up after being answered, or cancelled
    FAILED = "failed"  # never answered: busy, no-answer, failed (data: status)
    HELD = "held"
    UNHELD = "unheld"
    MUTED = "muted"
    UNMUTED = "unmuted"


@dataclass(frozen=True)
class ProviderReport:
    """One event at the provider. `event_id` is unique per provider for that event (a
    redelivery carries the same id, and is applied once)."""

    provider: str
    event_id: str
    call_sid: str
    kind: ReportKind
    data: dict = field(default_factory=dict)
    occurred_at: datetime | None = None


ReportSink = Callable[[ProviderReport], object]


class TelephonyProvider(Protocol):
    """Built once per process as `Provider(report=sink)`."""

    name: str

    def hold(self, *, call_sid: str) -> HoldResult:
        """Park the call in a hold queue (the caller hears hold music)."""

    def resume(self, *, call_sid: str, queue_name: str | None) -> None:
        """Take the call out of its hold queue, back to where it was."""

    def start_conference(self, *, call_sid: str, name: str) -> str:
        """Move a live call into a new conference; returns the conference SID (`CF…`)."""

    def dial_into_conference(
        self, *, conference_sid: str, destination: str, from_number: str
    ) -> str:
        """Ring `destination` with caller id `from_number` into the conference; returns the new
        call's SID (`CA…`). Its answer (or failure) arrives later as a report."""

    def hangup(self, *, call_sid: str) -> None:
        """End the call leg."""
