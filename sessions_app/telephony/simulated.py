"""A simulated provider for demos and tests: realistic SIDs, invited parties that answer.

Destinations that start with +1500555 behave like the platform's test numbers: `+15005550001`
is refused as invalid and `+15005550002` as unreachable, so failures can be shown and tested.

It keeps, in this process only, which calls it ended (hung up, removed, redirected away, or
ended with their conference): `call_status` says those are completed and every other call is in
progress, so reconciliation runs against it and finds a ghost only where a test made one
(`forget_call`: the call ends with no report, as when a status callback is lost).

Every operation takes `SIMULATED_PROVIDER_LATENCY` seconds, so that demos, tests and
benchmarks can show a slow provider. What happens later (an invitee answering after
`SIMULATED_ANSWER_DELAY` seconds, a caller hanging up, an agent answering) is reported through
the `report` callable, from a thread of its own, exactly as a real provider's callbacks arrive:
possibly before the action that caused them has been recorded.
"""

import logging
import secrets
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections, connection

from .base import (
    CallStatus,
    HoldResult,
    MonitorMode,
    ProviderReport,
    ReportKind,
    ReportSink,
    TelephonyError,
)

logger = logging.getLogger(__name__)

FAILING_DESTINATIONS = {
    "+15005550001": "The destination number is not a valid phone number",
    "+15005550002": "The destination cannot be reached",
}


def new_sid(prefix: str) -> str:
    """A SID in the provider's shape: a two-letter prefix and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class SimulatedProvider:
    """The `TelephonyProvider` of the demo and the tests: every operation succeeds (but
    dials to the failing test numbers) after `SIMULATED_PROVIDER_LATENCY`; invitees answer
    after `SIMULATED_ANSWER_DELAY`, reported like any provider's callbacks."""

    name = "simulated"

    def __init__(self, *, report: ReportSink):
        self._report = report
        self._ended: set[str] = set()
        self._conferences: dict[str, set[str]] = {}  # conference SID -> its calls

    def _take_time(self) -> None:
        latency = settings.SIMULATED_PROVIDER_LATENCY
        if latency > 0:
            time.sleep(latency)

    def hold(self, *, call_sid: str, conference_sid: str | None = None) -> HoldResult:
        self._take_time()
        return HoldResult(queue_name=f"hold-{call_sid[-8:]}")

    def resume(
        self, *, call_sid: str, queue_name: str | None, conference_sid: str | None = None
    ) -> None:
        self._take_time()

    def start_conference(self, *, call_sid: str, name: str) -> str:
        self._take_time()
        conference_sid = new_sid("CF")
        self._conferences[conference_sid] = {call_sid}
        return conference_sid

    def dial_into_conference(
        self,
        *,
        conference_sid: str | None,
        destination: str,
        from_number: str,
        conference_name: str | None = None,
    ) -> str:
        self._take_time()
        if destination in FAILING_DESTINATIONS:
            raise TelephonyError(FAILING_DESTINATIONS[destination])
        call_sid = new_sid("CA")
        if conference_sid:
            self._conferences.setdefault(conference_sid, set()).add(call_sid)
        delay = settings.SIMULATED_ANSWER_DELAY
        if delay >= 0:
            self.report_later(delay, call_sid, ReportKind.ANSWERED)
        return call_sid

    def hangup(self, *, call_sid: str) -> None:
        self._take_time()
        self._ended.add(call_sid)

    def mute(self, *, conference_sid: str, call_sid: str, muted: bool) -> None:
        self._take_time()

    def remove_participant(self, *, conference_sid: str, call_sid: str) -> None:
        self._take_time()
        self._ended.add(call_sid)

    def redirect(self, *, call_sid: str, destination: str, caller_id: str) -> None:
        self._take_time()
        if destination in FAILING_DESTINATIONS:
            raise TelephonyError(FAILING_DESTINATIONS[destination])

    def monitor(
        self,
        *,
        conference_sid: str,
        destination: str,
        mode: MonitorMode,
        agent_call_sid: str | None,
        from_number: str,
    ) -> str:
        self._take_time()
        if mode == MonitorMode.COACH and not agent_call_sid:
            raise TelephonyError("Coaching needs the call of the agent to coach")
        return self.dial_into_conference(
            conference_sid=conference_sid, destination=destination, from_number=from_number
        )

    def set_monitor_mode(
        self,
        *,
        conference_sid: str,
        call_sid: str,
        mode: MonitorMode,
        agent_call_sid: str | None,
    ) -> None:
        self._take_time()
        if mode == MonitorMode.COACH and not agent_call_sid:
            raise TelephonyError("Coaching needs the call of the agent to coach")

    def end_conference(self, *, conference_sid: str) -> None:
        self._take_time()
        self._ended.update(self._conferences.pop(conference_sid, set()))

    def call_status(self, *, call_sid: str) -> CallStatus:
        self._take_time()
        return CallStatus.COMPLETED if call_sid in self._ended else CallStatus.IN_PROGRESS

    # What the simulated world does on its own (the traffic simulator drives these).

    def forget_call(self, call_sid: str) -> None:
        """The call ends at the provider and no report says so (a lost status callback): what
        reconciliation is for."""
        self._ended.add(call_sid)

    def report_now(self, call_sid: str, kind: ReportKind, **data) -> None:
        """Report `kind` for `call_sid`, in this thread (as a status callback would)."""
        self._report(
            ProviderReport(
                provider=self.name,
                event_id=str(uuid.uuid4()),
                call_sid=call_sid,
                kind=kind,
                data=data,
            )
        )

    def report_later(self, delay: float, call_sid: str, kind: ReportKind, **data) -> None:
        """Report `kind` for `call_sid` from another thread after `delay` seconds."""
        timer = threading.Timer(delay, self._report_in_thread, args=(call_sid, kind, data))
        timer.daemon = True
        timer.start()

    def _report_in_thread(self, call_sid: str, kind: ReportKind, data: dict) -> None:
        close_old_connections()
        try:
            self.report_now(call_sid, kind, **data)
        except Exception:
            logger.exception("simulated report %s of %s failed", kind, call_sid)
        finally:
            connection.close()  # this thread's own connection
