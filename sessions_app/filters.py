"""The portal's session filters: read from the URL (so a filtered view is a shareable link),
validated, and applied on top of the user-scoped selector."""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.db.models import Case, Q, QuerySet, When
from django.http import QueryDict
from django.utils import timezone

from . import selectors
from .dates import parse_start_date
from .errors import ValidationFailed
from .models import CallSession, CallState, Channel, Direction, QueueState, User


@dataclass(frozen=True)
class SessionFilters:
    """The active-sessions page's filters, as the URL gives them."""

    account: str = ""
    customer: str = ""
    start: str = ""
    state: str = ""
    channel: str = ""
    direction: str = ""
    q: str = ""

    @classmethod
    def from_query(cls, query: QueryDict) -> tuple["SessionFilters", list[str]]:
        """Filters from the URL and the problems found (an invalid value is dropped)."""
        values = {f.name: query.get(f.name, "").strip()[:100] for f in fields(cls)}
        problems = []
        for name, choices in (("state", CallState), ("channel", Channel), ("direction", Direction)):
            if values[name] and values[name] not in choices.values():
                problems.append(f"Unknown {name} '{values[name]}' ignored.")
                values[name] = ""
        if values["start"] and _start(values["start"]) is None:
            problems.append(f"Start date '{values['start']}' is not a date; ignored.")
            values["start"] = ""
        return cls(**values), problems

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def querystring(self) -> str:
        query = QueryDict(mutable=True)
        for f in fields(self):
            if getattr(self, f.name):
                query[f.name] = getattr(self, f.name)
        return query.urlencode()

    def apply(self, user: User) -> QuerySet[CallSession]:
        queryset = selectors.sessions_active_queryset(
            user=user,
            account_id=self.account or None,
            customer_id=self.customer or None,
            start_date=_start(self.start),
        )
        if self.state:
            queryset = queryset.filter(call_state=self.state)
        if self.channel:
            queryset = queryset.filter(channel=self.channel)
        if self.direction:
            queryset = queryset.filter(direction=self.direction)
        if self.q:
            queryset = queryset.filter(
                Q(from_address__icontains=self.q)
                | Q(from_name__icontains=self.q)
                | Q(to_address__icontains=self.q)
                | Q(display_name__icontains=self.q)
                | Q(answered_by_name__icontains=self.q)
            )
        return queryset


def _start(value: str) -> datetime | None:
    try:
        return parse_start_date(value)
    except ValidationFailed:
        return None


@dataclass(frozen=True)
class Counters:
    """The counters strip: calls by state and the longest wait."""

    active: int
    ringing: int
    connected: int
    on_hold: int
    queued: int
    longest_wait: timedelta | None


# Waiting means ringing or queued (as `counted` says it of a loaded session).
WAITING = Q(call_state=CallState.RINGING) | Q(queue_state=QueueState.QUEUED)
# What the counters read of each session: its states and, if it waits, since when (only those
# dates: reading one is dearer than counting in Python).
COUNTED = ("call_state", "queue_state", Case(When(WAITING, then="date_created")))


def counted(session: CallSession) -> tuple[str, str, datetime | None]:
    """What the counters count of a loaded session, as COUNTED reads it."""
    waiting = session.call_state == CallState.RINGING or session.queue_state == QueueState.QUEUED
    return session.call_state, session.queue_state, session.date_created if waiting else None


def counters_of(sessions: Iterable[tuple[str, str, datetime | None]]) -> Counters:
    """The counters strip of sessions read as COUNTED: (call state, queue state, creation date
    if waiting)."""
    active = ringing = connected = on_hold = queued = 0
    oldest_waiting = None
    for call_state, queue_state, waiting_since in sessions:
        active += 1
        ringing += call_state == CallState.RINGING
        connected += call_state == CallState.CONNECTED
        on_hold += call_state == CallState.HOLD
        queued += queue_state == QueueState.QUEUED
        if waiting_since is not None and (oldest_waiting is None or waiting_since < oldest_waiting):
            oldest_waiting = waiting_since
    return Counters(
        active=active,
        ringing=ringing,
        connected=connected,
        on_hold=on_hold,
        queued=queued,
        longest_wait=timezone.now() - oldest_waiting if oldest_waiting else None,
    )


def session_counters(queryset: QuerySet[CallSession]) -> Counters:
    """The counters strip of the sessions of `queryset`, in one query."""
    return counters_of(queryset.order_by().values_list(*COUNTED))
