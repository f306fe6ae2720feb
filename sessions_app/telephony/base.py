"""The provider interface: what the services ask of a telephony platform, and what it reports.

The services call a provider with no database transaction open (see `services.unit`), so a
slow provider never holds a row lock or a pooled connection. Every method either does the
thing or raises TelephonyError. What happens later at the provider (a call answered, a leg hung
up) comes back as `ProviderReport`s handed to the `report` callable the provider was built
with, or, for a provider that calls us back over HTTP (Twilio), through the callback views; the
services store and apply them (`services.inbox`). Providers import nothing from the services.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class FailureKind(StrEnum):
    """Why a provider refused or failed, which decides what the API answers: the provider
    said the call is not in a state for it (409), refused what we asked for (400), or could
    not be reached or failed on its side (502)."""

    INVALID_STATE = "invalid_state"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"


class TelephonyError(Exception):
    """The provider refused or failed; the message is fit to show a user. `kind` says why
    (by default the provider failed: a 502); `code` is the provider's own error code, if any."""

    def __init__(
        self, message: str, *, kind: FailureKind = FailureKind.UNAVAILABLE, code=None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


@dataclass(frozen=True)
class HoldResult:
    """Where the provider parked a held call."""

    queue_name: str


class CallStatus(StrEnum):
    """A call's state at the provider (Twilio's call statuses), for reconciliation. `UNKNOWN`:
    the provider has no such call (any more)."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def gone(self) -> bool:
        """The call is over at the provider (or it never heard of it)."""
        return self not in (self.QUEUED, self.INITIATED, self.RINGING, self.IN_PROGRESS)


class MonitorMode(StrEnum):
    """How a supervisor joins a conference: `listen` hears everyone and says nothing (a muted
    participant), `coach` is heard only by the agent being coached, `barge` is a full
    participant."""

    LISTEN = "listen"
    COACH = "coach"
    BARGE = "barge"


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
    JOINED = "joined"  # the leg joined a conference (data: conference_sid, conference_name)
    LEFT = "left"  # the leg left its conference (removed, or moved elsewhere)
    OTHER = "other"  # anything else (data: event, the provider's name for it): recorded only


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
    """Built once per process as `Provider(report=sink)`.

    `conference_sid` is None when the session's call is not (known to be) in a conference; a
    provider that needs a conference for an operation refuses with `INVALID_STATE`.
    """

    name: str

    def hold(self, *, call_sid: str, conference_sid: str | None = None) -> HoldResult:
        """Put the call on hold (the caller hears hold music)."""

    def resume(
        self, *, call_sid: str, queue_name: str | None, conference_sid: str | None = None
    ) -> None:
        """Take the call off hold, back to where it was."""

    def start_conference(self, *, call_sid: str, name: str) -> str:
        """Move a live call into a new conference named `name`; returns the conference SID
        (`CF…`)."""

    def dial_into_conference(
        self,
        *,
        conference_sid: str | None,
        destination: str,
        from_number: str,
        conference_name: str | None = None,
    ) -> str:
        """Ring `destination` with caller id `from_number` into the conference; returns the new
        call's SID (`CA…`). Its answer (or failure) arrives later as a report. Without a
        `conference_sid` (the conference has not started yet), into the one named
        `conference_name`, started if need be."""

    def hangup(self, *, call_sid: str) -> None:
        """End the call leg."""

    def mute(self, *, conference_sid: str, call_sid: str, muted: bool) -> None:
        """Mute (or unmute) a participant of the conference."""

    def remove_participant(self, *, conference_sid: str, call_sid: str) -> None:
        """Take a participant out of the conference (its leg ends)."""

    def redirect(self, *, call_sid: str, destination: str, caller_id: str) -> None:
        """Blind transfer: the call leaves where it is and dials `destination`."""

    def monitor(
        self,
        *,
        conference_sid: str,
        destination: str,
        mode: MonitorMode,
        agent_call_sid: str | None,
        from_number: str,
    ) -> str:
        """Ring a supervisor at `destination` into the conference to listen, coach the agent on
        `agent_call_sid`, or barge in; returns the supervisor's call SID."""

    def set_monitor_mode(
        self,
        *,
        conference_sid: str,
        call_sid: str,
        mode: MonitorMode,
        agent_call_sid: str | None,
    ) -> None:
        """Switch the supervisor on `call_sid` (rung by `monitor`) to another mode, without
        ringing them again."""

    def end_conference(self, *, conference_sid: str) -> None:
        """End the conference: every participant's leg ends."""

    def call_status(self, *, call_sid: str) -> CallStatus:
        """The call's state at the provider now (reconciliation asks)."""
