"""A simulated provider for demos and tests: realistic SIDs, invited parties that answer.

Destinations that start with +1500555 behave like the platform's test numbers: `+15005550001`
is refused as invalid and `+15005550002` as unreachable, so failures can be shown and tested.
"""

import logging
import secrets
import threading

from django.conf import settings
from django.db import close_old_connections, transaction

from .base import HoldResult, TelephonyError

logger = logging.getLogger(__name__)

FAILING_DESTINATIONS = {
    "+15005550001": "The destination number is not a valid phone number",
    "+15005550002": "The destination cannot be reached",
}


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class SimulatedProvider:
    def hold(self, *, call_sid: str) -> HoldResult:
        return HoldResult(queue_name=f"hold-{call_sid[-8:]}")

    def resume(self, *, call_sid: str, queue_name: str | None) -> None:
        return None

    def start_conference(self, *, call_sid: str, name: str) -> str:
        return new_sid("CF")

    def dial_into_conference(
        self, *, conference_sid: str, destination: str, from_number: str
    ) -> str:
        if destination in FAILING_DESTINATIONS:
            raise TelephonyError(FAILING_DESTINATIONS[destination])
        call_sid = new_sid("CA")
        delay = settings.SIMULATED_ANSWER_DELAY
        if delay >= 0:
            # Only a committed invite can be answered: a rolled-back one never rang.
            transaction.on_commit(lambda: self._answer_later(call_sid, delay))
        return call_sid

    def hangup(self, *, call_sid: str) -> None:
        return None

    def _answer_later(self, call_sid: str, delay: float) -> None:
        timer = threading.Timer(delay, self._answer, args=(call_sid,))
        timer.daemon = True
        timer.start()

    @staticmethod
    def _answer(call_sid: str) -> None:
        from sessions_app.services import member_answered

        close_old_connections()
        try:
            member_answered(call_sid=call_sid)
        except Exception:
            logger.exception("simulated answer of %s failed", call_sid)
        finally:
            close_old_connections()
            from django.db import connection

            connection.close()
