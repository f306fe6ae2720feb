"""The portal's session filters: read from the URL (so a filtered view is a shareable link),
validated, and applied on top of the user-scoped selector."""

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
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


def session_counters(queryset: QuerySet[CallSession]) -> Counters:
    """The counters strip in one aggregate query. Waiting means ringing or queued."""
    waiting = Q(call_state=CallState.RINGING) | Q(queue_state=QueueState.QUEUED)
    row = queryset.order_by().aggregate(
        active=Count("pk"),
        ringing=Count("pk", filter=Q(call_state=CallState.RINGING)),
        connected=Count("pk", filter=Q(call_state=CallState.CONNECTED)),
        on_hold=Count("pk", filter=Q(call_state=CallState.HOLD)),
        queued=Count("pk", filter=Q(queue_state=QueueState.QUEUED)),
        oldest_waiting=Min("date_created", filter=waiting),
    )
    oldest = row.pop("oldest_waiting")
    return Counters(**row, longest_wait=timezone.now() - oldest if oldest else None)
