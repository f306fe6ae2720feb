"""The portal's table rows, each rendered once per state of its session and kept in memory, with
holes for what changes with every request or every second.

A page of 500 active sessions used to render the row template 500 times on every load and
every redraw (about a millisecond a row). A row shows nothing but its session, in the state its
document revision names (`SessionDocument`: any change to the session, its members, its log or
the names it shows makes a new one, never reused), the name of the user holding it, and whether
the viewer sees several accounts. Rendered under those three, it is kept in this process (`lru`)
and reused by every page, region and row request that shows that state, whoever asks.

What differs per request or per second is not in the kept HTML but left as holes (`hole`): the
CSRF token and the address of the page (the forms' hidden fields), its filters (the row's URL), the
durations of the call and of its hold and the hold highlight (which portal.js then keeps
ticking; without JavaScript they are right as of the response). The template's tags make the
holes; `fill` fills every hole of a whole table in one pass per response.
"""

import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from . import prepared, selectors
from .filters import Counters, SessionFilters, counted, counters_of
from .lru import TextLRU
from .models import CallSession, HoldReason, User

TEMPLATE = "portal/_session_row.html"
# The hold form's choices, (value, label): in every row and on the detail page.
HOLD_REASONS = [
    (reason, "No reason" if reason == HoldReason.NONE else str(reason)) for reason in HoldReason
]

# (revision, holder's username, viewer sees several accounts) -> the row's HTML, with holes.
_kept = TextLRU(int(settings.ROW_CACHE_MB * 1_000_000))

# A hole is NUL, a name, a colon, a value, NUL: PostgreSQL text never holds a NUL, so no data
# shown in a row can look like one, and HTML escaping leaves it as it is.
_HOLE = re.compile("\x00([a-z]+):([^\x00]*)\x00")
_TIMED = ("clock", "held")


def hole(name: str, value: object = "") -> SafeString:
    """A hole in a kept row, filled by `fill` for each response: `form` (a form's hidden
    fields) and `query` (the page's filters) per request, `clock` and `held` (a time, in seconds
    since the epoch)."""
    return mark_safe(f"\x00{name}:{value}\x00")


# Where a page's template puts its rows (`{{ rows.slot }}`): they are spliced into the rendered
# response (`splice`) rather than passed through every level of template nesting, each of
# which would copy a megabyte of rows once more.
_SLOT = "\x00rows\x00"


@dataclass(frozen=True)
class SessionRows:
    """A table's rows, ready to send, the ids of their sessions in order, whether they name
    each session's account (the viewer sees several), and the counters of those sessions."""

    html: SafeString
    ids: list[str]
    show_account: bool
    counters: Counters  # of the same sessions, read with them
    slot: SafeString = mark_safe(_SLOT)

    def __len__(self) -> int:
        return len(self.ids)

    def splice(self, response: HttpResponse) -> HttpResponse:
        """The rendered `response` with these rows in its slot."""
        slot, rows = _SLOT.encode(), self.html.encode(response.charset)
        response.content = response.content.replace(slot, rows, 1)
        return response


def forget_kept_rows() -> None:
    """Forget the rows this process keeps in memory (tests)."""
    _kept.clear()


def session_rows(
    request: HttpRequest,
    queryset: QuerySet[CallSession],
    filters: SessionFilters,
    show_account: bool | None = None,
) -> SessionRows:
    """The rows of the sessions of `queryset`, newest first, and their counters (counted from
    what each kept row says of its session's states). One query whatever the number of sessions
    (their revisions and holders' names), and one for the viewer's accounts unless
    `show_account` is given; for the rows not kept, those of `selectors.sessions_for_table`."""
    if show_account is None:
        show_account = shows_account(request.user)
    holder = User.objects.filter(pk=OuterRef("held_by_user_id")).values("username")[:1]
    found = prepared.rows(
        queryset.order_by("-date_created", "-id").values_list(
            "pk", "document__revision", Subquery(holder)
        )
    )
    keys = {
        pk: (revision, holder_name, show_account)
        for pk, revision, holder_name in found
        if revision is not None
    }
    kept = _kept.get_many(keys.values())
    missing = [pk for pk, _, _ in found if keys.get(pk) not in kept]
    rendered = _render(CallSession.objects.filter(pk__in=missing), show_account) if missing else {}
    table, ids = [], []
    for pk, _, _ in found:
        row = kept.get(keys.get(pk)) or rendered.get(pk)
        if row is not None:  # else deleted meanwhile
            table.append(row)
            ids.append(pk)
    counters = counters_of(counted for _, _, counted in table)
    return SessionRows(fill(request, table, filters), ids, show_account, counters)


def session_row(request: HttpRequest, session_id: str, filters: SessionFilters) -> str | None:
    """The row of one active session of the user's, or None (ended, or not theirs). The
    queries of `selectors.sessions_for_table` for one session, and the viewer's accounts."""
    show_account = shows_account(request.user)
    active = selectors.sessions_visible_to(request.user).filter(pk=session_id, ended=False)
    [session] = selectors.sessions_for_table(_with_revision(active)) or [None]
    if session is None:
        return None
    key = (session.revision, session.held_by_name, show_account)
    row = _kept.get_many([key]).get(key) if session.revision is not None else None
    if row is None:
        row = _render_sessions([session], show_account)[session.pk]
    return fill(request, [row], filters)


def _render(queryset: QuerySet[CallSession], show_account: bool) -> dict[str, tuple]:
    """Render the rows of these sessions (kept), by session id."""
    return _render_sessions(selectors.sessions_for_table(_with_revision(queryset)), show_account)


def _render_sessions(sessions: list[CallSession], show_account: bool) -> dict[str, tuple]:
    template = get_template(TEMPLATE)
    context = {
        "show_account": show_account,
        "hold_reasons": HOLD_REASONS,
        "form_fields": hole("form"),
        "row_query": hole("query"),
    }
    rendered = {
        # With what the counters count of it, kept with the row for the state it shows.
        s.pk: (*_kept_form(template.render({**context, "s": s})), counted(s))
        for s in sessions
    }
    # Under the revision read with the session's row: if anything changed before the rest
    # (breadcrumb, holder) was read, that revision is already gone and the row never found.
    _kept.set_many(
        ((s.revision, s.held_by_name, show_account), rendered[s.pk])
        for s in sessions
        if s.revision is not None
    )
    return rendered


def _kept_form(html: str) -> tuple[tuple[str, ...], tuple[tuple[str, float], ...]]:
    """A rendered row as it is kept: its text between the holes, and the holes in order as
    (name, time: seconds since the epoch, for `clock` and `held`)."""
    parts = _HOLE.split(html)  # text, name, value, text, name, value, ..., text
    holes = tuple(
        (name, float(value) if name in _TIMED else 0.0)
        for name, value in zip(parts[1::3], parts[2::3], strict=True)
    )
    return tuple(parts[0::3]), holes


def fill(request: HttpRequest, kept: list[tuple], filters: SessionFilters) -> SafeString:
    """The kept rows with their holes filled for this request, now: one list of pieces, one
    join (a table has some 3,000 holes)."""
    query = filters.querystring()
    per_request = {
        # Each form's hidden fields: the CSRF token (one masked token for the whole response)
        # and where to go back to without JavaScript, this page.
        "form": format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="next" value="{}">',
            get_token(request),
            request.get_full_path(),
        ),
        "query": escape(f"?{query}") if query else "",
    }
    now = time.time()
    warn, alert = settings.HOLD_WARN_SECONDS, settings.HOLD_ALERT_SECONDS
    pieces = []
    append = pieces.append
    for texts, holes, _ in kept:
        append(texts[0])
        for (name, moment), text in zip(holes, texts[1:]):  # noqa: B905 - one more text
            value = per_request.get(name)
            if value is None:
                since = now - moment
                if name == "clock":
                    value = clock(since)
                elif since >= warn:  # held
                    value = " hold-alert" if since >= alert else " hold-warn"
                else:
                    value = ""
            append(value)
            append(text)
    return mark_safe("".join(pieces))


def clock(seconds: float) -> str:
    """A duration as M:SS or H:MM:SS."""
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _with_revision(queryset: QuerySet[CallSession]) -> QuerySet[CallSession]:
    return queryset.annotate(revision=F("document__revision"))


def shows_account(user: User, accounts: list | None = None) -> bool:
    """Whether the viewer sees sessions of several accounts (rows then name theirs); from the
    list of the accounts they may see, if the caller has read it, else one query."""
    if user.sees_all_accounts:
        return True
    return (len(accounts) if accounts is not None else user.accounts.count()) > 1
