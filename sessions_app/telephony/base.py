"""The provider interface: what the services ask of a telephony platform.

Every method either does the thing or raises TelephonyError; the services call them after the
session row is locked and before anything is written, so a failure leaves the session as it was.
"""

from dataclasses import dataclass
from typing import Protocol


class TelephonyError(Exception):
    """The provider refused or failed; the message is fit to show a user."""


@dataclass(frozen=True)
class HoldResult:
    queue_name: str


class TelephonyProvider(Protocol):
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
        call's SID (`CA…`). The answer arrives later, through `services.member_answered`."""

    def hangup(self, *, call_sid: str) -> None:
        """End the call."""
