"""Every read. Each selector takes the user and returns only what that user may see, with the
related rows already loaded, so callers never filter by account or trigger lazy queries."""

import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db.models import (
    CharField,
    Exists,
    F,
    Func,
    Max,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.functions import Cast
from django.db.models.lookups import StartsWith
from django.utils import timezone

from .errors import SessionNotFound, ValidationFailed
from .eventlog import render_message
from .models import (
    HOLDABLE_CHANNELS,
    Account,
    ApiAuthSession,
    AuthFailure,
    CallSession,
    Customer,
    Endpoint,
    SessionEvent,
    SessionMember,
    User,
)
from .permissions import account_ids_visible_to, account_scope, sees_all_api_sessions


def accounts_visible_to(user: User) -> QuerySet[Account]:
    """The accounts `user` may see."""
    return Account.objects.filter(account_scope(user, "id"))


@dataclass(frozen=True)
class Choice:
    """An account or customer offered by a filter: its id and name (a customer: its parent's
    id and its account too)."""

    id: str
    name: str
    parent_id: str | None = None
    account: "Choice | None" = None


def filter_choices_for(user: User) -> tuple[list[Choice], list[Choice]]:
    """The accounts `user` may see, by name, and their customers, by account name and tree
    order: what the portal's filters offer, in one query."""
    rows = (
        Account.objects.filter(account_scope(user, "id"))
        .order_by("name", "customers__path")
        .values_list("id", "name", "customers__id", "customers__name", "customers__parent_id")
    )
    accounts, customers = {}, []
    for account_id, account_name, customer_id, name, parent_id in rows:
        account = accounts.setdefault(account_id, Choice(account_id, account_name))
        if customer_id is not None:
            customers.append(Choice(customer_id, name, parent_id, account))
    return list(accounts.values()), customers


def sessions_visible_to(user: User) -> QuerySet[CallSession]:
    """Sessions of the user's accounts, unloaded: for locking and existence checks."""
    return CallSession.objects.filter(account_scope(user))


def _with_details(queryset: QuerySet[CallSession]) -> QuerySet[CallSession]:
    return queryset.select_related("account", "customer", "endpoint").prefetch_related(
        Prefetch("members", queryset=SessionMember.objects.order_by("date_created", "id")),
        Prefetch("events", queryset=SessionEvent.objects.order_by("seq")),
    )


class WireDate(Func):
    """A timestamp as the wire writes it (`dto.wire_date`: UTC, milliseconds, `Z`), formatted
    by the database: a list of 500 sessions has 5,000 log dates, and reading each into a
    datetime only to format it again cost more than the query."""

    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra):
        template = (
            "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]": the milliseconds are cut from the text
        # (strftime's %f would round them). `%` is doubled twice: once for this template,
        # once for the driver's parameter style. A column: the expression has no parameters.
        template = (
            "strftime('%%%%Y-%%%%m-%%%%dT%%%%H:%%%%M:%%%%S', %(expressions)s) || '.' || "
            "substr(substr(%(expressions)s, 21) || '000', 1, 3) || 'Z'"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def attach_breadcrumbs(sessions: list[CallSession]) -> list[CallSession]:
    """Set `session.breadcrumb` to [(id, name), ...] from the top customer down, in one query."""
    ids = {cid for s in sessions if s.customer for cid in s.customer.ancestor_ids}
    names = dict(Customer.objects.filter(pk__in=ids).values_list("id", "name")) if ids else {}
    for session in sessions:
        ancestry = session.customer.ancestor_ids if session.customer else []
        session.breadcrumb = [(cid, names[cid]) for cid in ancestry if cid in names]
    return sessions


def sessions_active_queryset(
    *,
    user: User,
    account_id: str | None = None,
    customer_id: str | None = None,
    start_date: datetime | None = None,
) -> QuerySet[CallSession]:
    """Sessions not ended that `user` may see, narrowed as asked; nothing loaded yet.

    `customer_id` includes the customer's sub-customers. An account or customer the user may
    not see simply matches nothing.
    """
    queryset = sessions_visible_to(user).filter(ended=False)
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    if customer_id:
        customer = Customer.objects.filter(pk=customer_id).values_list("path", flat=True)
        queryset = queryset.filter(customer__path__startswith=customer[:1])
    if start_date:
        queryset = queryset.filter(date_created__gte=start_date)
    return queryset


def sessions_for_table(queryset: QuerySet[CallSession]) -> list[CallSession]:
    """Evaluate `queryset` newest first for a table of sessions: account, customer, endpoint,
    breadcrumb and the holder's name loaded, members and log not (a row shows neither).
    A constant number of queries whatever the number of sessions."""
    sessions = list(
        queryset.select_related("account", "customer", "endpoint").order_by("-date_created", "-id")
    )
    return attach_holder_names(attach_breadcrumbs(sessions))


# The API's read path builds plain dicts ("records") rather than model instances: for a list of
# 500 sessions with 13 related rows each, instantiating ~8,000 models and their per-row copies
# of account/customer/endpoint cost several times the SQL itself (see bench/active_sessions.py).
_SESSION_COLUMNS = (
    *(f.attname for f in CallSession._meta.concrete_fields),
    "account__name",
    "customer__name",
    "customer__path",
    "endpoint__name",
    # Read with the session's row, so a document rendered from this record is stored only if
    # nothing changed since (`documents`).
    "document__revision",
)
_MEMBER_COLUMNS = (
    "session_id",
    "identity",
    "endpoint_id",
    "display_name",
    "is_original_member",
    "avatar_url",
    "application_data",
    "call_state",
    "role",
    "call_sid",
    "muted",
)
_EVENT_COLUMNS = ("session_id", "wire_date", "kind", "data_json", "actor_name", "via")


# Newest first, the id breaking ties: the order of every list of sessions unless asked otherwise.
NEWEST_FIRST = ("-date_created", "-id")


def session_records(queryset: QuerySet[CallSession]) -> list[dict]:
    """`queryset` as dicts, newest first: the session's columns (model attribute names) plus
    `account__name`, `customer__name`, `endpoint__name`, `document__revision` (the revision
    of its `SessionDocument` as this record was read), `members` and `log` (lists of dicts in
    their order: `log` has each event's `date` and rendered `message`) and `breadcrumb` (dicts
    of `id` and `name` from the top customer down). Four queries, whatever the number of
    sessions."""
    records = list(queryset.order_by(*NEWEST_FIRST).values(*_SESSION_COLUMNS))
    if not records:
        return records
    # The sessions again as a subquery, rather than 500 ids as parameters to bind and send.
    return _records_with_details(records, queryset.order_by().values("pk"))


def _records_with_details(records: list[dict], ids) -> list[dict]:
    """Add `members`, `log` and `breadcrumb` to session rows (see `session_records`): three
    queries. `ids`: the sessions' ids, as a subquery or a list."""
    members, log = defaultdict(list), defaultdict(list)
    member_rows = SessionMember.objects.filter(session_id__in=ids).order_by(
        "session_id", "date_created", "id"
    )
    for row in member_rows.values(*_MEMBER_COLUMNS):
        members[row["session_id"]].append(row)
    event_rows = (
        SessionEvent.objects.filter(session_id__in=ids)
        .order_by("session_id", "seq")
        # The data as text, decoded here by orjson: several times faster than the JSON field's
        # own decoding, for thousands of small documents.
        .annotate(wire_date=WireDate("date"), data_json=Cast("data", TextField()))
    )
    for session_id, date, kind, data, actor_name, via in event_rows.values_list(*_EVENT_COLUMNS):
        message = render_message(kind, orjson.loads(data), actor_name, via)
        log[session_id].append({"date": date, "message": message})
    for record in records:
        record["members"] = members[record["id"]]
        record["log"] = log[record["id"]]
    return _with_breadcrumbs(records)


def _with_breadcrumbs(records: list[dict]) -> list[dict]:
    """Set each record's `breadcrumb` from its `customer__path`: dicts of `id` and `name` from
    the top customer down, in one query (none without customers)."""
    paths = {record["customer__path"] for record in records if record["customer__path"]}
    crumb_ids = {cid for path in paths for cid in path.split("/") if cid}
    names = dict(Customer.objects.filter(pk__in=crumb_ids).values_list("id", "name"))
    for record in records:
        path = record["customer__path"] or ""
        record["breadcrumb"] = [
            {"id": cid, "name": names[cid]} for cid in path.split("/") if cid in names
        ]
    return records


def session_records_active_for(**filters) -> list[dict]:
    """`sessions_active_queryset(**filters)` as records (see `session_records`)."""
    return session_records(sessions_active_queryset(**filters))


# A `Log` search reads the log of every session the other filters leave, rendered as the wire
# renders it (messages are not stored, so no index can answer it): it refuses to read more.
LOG_SEARCH_MAX_SESSIONS = 5000


@dataclass(frozen=True, kw_only=True)
class SessionFilters:
    """What a list of sessions is narrowed to (`ListSessions`); empty means not narrowed.
    `customer_ids` include their sub-customers; `from_address`, `to_address` and `log` match
    text they contain, ignoring case; `start_date` and `end_date` are inclusive. Sessions have
    no parent session here, so any `parent_session_id` matches nothing."""

    account_ids: Sequence[str] = ()
    customer_ids: Sequence[str] = ()
    endpoint_ids: Sequence[str] = ()
    specific_ids: Sequence[str] = ()
    start_date: datetime | None = None
    end_date: datetime | None = None
    from_address: str = ""
    to_address: str = ""
    log: str = ""
    parent_session_id: str = ""


@dataclass(frozen=True)
class SessionPage:
    """One page of session records (see `session_records`) and what the client pages with.
    `total_count` and `total_pages` are 0 when they were not counted (simplified paging)."""

    records: list[dict]
    total_count: int
    total_pages: int
    has_more_pages: bool


def sessions_filtered_queryset(*, user: User, filters: SessionFilters) -> QuerySet[CallSession]:
    """Sessions `user` may see, ended ones included, narrowed by `filters`; nothing loaded yet.
    An account, customer or endpoint the user may not see simply matches nothing. A `log`
    filter is the one that reads rows now: two queries (`_session_ids_with_log`)."""
    accounts = _account_ids_to_list(user, filters.account_ids)
    if filters.parent_session_id or accounts == []:
        return CallSession.objects.none()
    queryset = CallSession.objects.all()
    if accounts is not None:
        queryset = queryset.filter(account_id__in=accounts)
    if filters.customer_ids:
        # A customer's subtree is a prefix of the materialised path: the session's customer
        # path starts with one of theirs (a subquery of the same query).
        subtrees = Customer.objects.filter(
            StartsWith(OuterRef("customer__path"), F("path")), pk__in=filters.customer_ids
        )
        queryset = queryset.filter(Exists(subtrees))
    if filters.endpoint_ids:
        queryset = queryset.filter(endpoint_id__in=filters.endpoint_ids)
    if filters.specific_ids:
        queryset = queryset.filter(pk__in=filters.specific_ids)
    if filters.start_date:
        queryset = queryset.filter(date_created__gte=filters.start_date)
    if filters.end_date:
        queryset = queryset.filter(date_created__lte=filters.end_date)
    if filters.from_address:
        queryset = queryset.filter(from_address__icontains=filters.from_address)
    if filters.to_address:
        queryset = queryset.filter(to_address__icontains=filters.to_address)
    if filters.log:
        queryset = queryset.filter(pk__in=_session_ids_with_log(queryset, filters.log))
    return queryset


def _account_ids_to_list(user: User, wanted: Sequence[str]) -> list[str] | None:
    """The accounts a list of sessions may show (`wanted` ones, or all), as values: the user's
    scope (`permissions.account_ids_visible_to`), read in one small query, rather than the
    subquery the other selectors use. Given the values, PostgreSQL reads a page of one account
    straight off its index; given a subquery, it cannot tell which accounts it will be, reads
    them all and sorts them (0.8 s for a page of an account of 500,000 sessions, see
    bench/list_sessions.py). None: every account (an administrator who named none)."""
    visible = account_ids_visible_to(user)
    if visible is None:
        return list(wanted) or None
    visible = list(visible)
    return [account for account in visible if account in set(wanted)] if wanted else visible


def _session_ids_with_log(queryset: QuerySet[CallSession], text: str) -> list[str]:
    """The ids of the sessions of `queryset` whose log has a line containing `text` (ignoring
    case), in the words the wire gives (`eventlog.render_message`), in two queries: the
    candidates' ids, then their events. At most `LOG_SEARCH_MAX_SESSIONS` candidates are read;
    past that, ValidationFailed asks the client to narrow the search first."""
    ids = queryset.order_by().values_list("pk", flat=True)
    candidates = list(ids[: LOG_SEARCH_MAX_SESSIONS + 1])
    if len(candidates) > LOG_SEARCH_MAX_SESSIONS:
        raise ValidationFailed.for_field(
            "Log",
            "TooManyToSearch",
            f"'Log' searches at most {LOG_SEARCH_MAX_SESSIONS} sessions; narrow the list first "
            "(StartDate, EndDate, AccountIds, CustomerIds, EndpointIds, From, To).",
        )
    if not candidates:
        return []
    wanted = text.casefold()
    events = (
        SessionEvent.objects.filter(session_id__in=candidates)
        .annotate(data_json=Cast("data", TextField()))
        .values_list("session_id", "kind", "data_json", "actor_name", "via")
    )
    found = set()
    for session_id, kind, data, actor_name, via in events:
        if session_id not in found:
            message = render_message(kind, orjson.loads(data), actor_name, via)
            if wanted in message.casefold():
                found.add(session_id)
    return sorted(found)


def session_page_for(
    *,
    user: User,
    filters: SessionFilters,
    order_by: Sequence[str] = NEWEST_FIRST,
    page: int = 0,
    count_per_page: int = 25,
    simplified_paging: bool = False,
    every_match: bool = False,
    max_every_match: int = 1000,
) -> SessionPage:
    """One page of the sessions `user` may see, narrowed by `filters`, in `order_by` (which
    should end with the id, so that pages never overlap): page `page` (from 0) of
    `count_per_page`. `simplified_paging`: nothing is counted, one more row is read to tell
    whether there are more pages. `every_match`: every session, in one page, or
    ValidationFailed if there are more than `max_every_match`. A constant number of queries
    whatever the page's size: the count (unless simplified), the page's sessions, their members,
    their logs, their breadcrumbs' names (plus two for a `log` filter)."""
    queryset = sessions_filtered_queryset(user=user, filters=filters)
    ordered = queryset.order_by(*order_by)
    if every_match:
        total = queryset.count()
        if total > max_every_match:
            raise ValidationFailed.for_field(
                "All",
                "TooManyResults",
                f"'All' lists at most {max_every_match} sessions and {total} match; page "
                "through them (Page, CountPerPage) or narrow the list.",
            )
        rows = list(ordered.values(*_SESSION_COLUMNS)) if total else []
        return SessionPage(_page_records(rows), total, 1 if total else 0, False)
    offset = page * count_per_page
    if simplified_paging:
        rows = _page_rows(ordered, order_by, offset, count_per_page + 1)
        more = len(rows) > count_per_page
        return SessionPage(_page_records(rows[:count_per_page]), 0, 0, more)
    total = queryset.count()
    rows = _page_rows(ordered, order_by, offset, count_per_page) if offset < total else []
    pages = -(-total // count_per_page)
    return SessionPage(_page_records(rows), total, pages, offset + len(rows) < total)


def _page_rows(ordered: QuerySet, order_by: Sequence[str], offset: int, limit: int) -> list[dict]:
    """The session rows of one page, in one query: the page's ids are found first, in a
    subquery that reads only the index when sorted by date (the rows skipped by the OFFSET are
    never joined to their account, customer and endpoint), then only those rows are read."""
    page_ids = ordered.values("pk")[offset : offset + limit]
    page = CallSession.objects.filter(pk__in=page_ids).order_by(*order_by)
    return list(page.values(*_SESSION_COLUMNS))


def _page_records(rows: list[dict]) -> list[dict]:
    """A page's session rows with their details, the page's ids sent as parameters (a page is
    small, and its query with an OFFSET is not worth running three times)."""
    return _records_with_details(rows, [row["id"] for row in rows]) if rows else rows


def session_record_for(*, user: User, session_id: str) -> dict:
    """One session of the user's as a record, or SessionNotFound."""
    records = session_records(sessions_visible_to(user).filter(pk=session_id))
    if not records:
        raise SessionNotFound(session_id)
    return records[0]


def session_etag(record: dict) -> str:
    """The `ETag` of a session record's `SessionInfo`: the session's version (bumped by every
    event), and a checksum of the names it shows of other rows (account, customer and its
    breadcrumb, endpoint), which are renamed without a new version of the session."""
    names = [record["account__name"], record["customer__name"], record["endpoint__name"]]
    names += [crumb["name"] for crumb in record["breadcrumb"]]
    checksum = zlib.crc32("\x1f".join(name or "" for name in names).encode())
    return f'"{record["version"]}-{checksum:08x}"'


def session_etag_for(*, user: User | None, session_id: str) -> str:
    """The current `ETag` of one session (see `session_etag`) in two small queries, without
    building its `SessionInfo`: what a conditional read or write compares. `user` None: any
    session (the caller has already checked who may see it). SessionNotFound if none."""
    sessions = CallSession.objects.all() if user is None else sessions_visible_to(user)
    record = (
        sessions.filter(pk=session_id)
        .values("version", "account__name", "customer__name", "customer__path", "endpoint__name")
        .first()
    )
    if record is None:
        raise SessionNotFound(session_id)
    return session_etag(_with_breadcrumbs([record])[0])


def latest_event_seq() -> int:
    """The sequence number of the newest event, 0 if there is none: where a reader of "every
    event after N" (the event stream's feed, a new webhook) starts."""
    return SessionEvent.objects.aggregate(last=Max("seq"))["last"] or 0


def session_get_for(*, user: User, session_id: str) -> CallSession:
    """One session with everything loaded (members, events), or SessionNotFound if it is not
    the user's."""
    sessions = list(_with_details(sessions_visible_to(user).filter(pk=session_id)))
    if not sessions:
        raise SessionNotFound(session_id)
    return attach_breadcrumbs(sessions)[0]


def usernames(user_ids: set[str]) -> dict[str, str]:
    """{user id: username} of these users: one query, none for no ids."""
    if not user_ids:
        return {}
    return dict(User.objects.filter(pk__in=user_ids).values_list("id", "username"))


def attach_holder_names(sessions: list[CallSession]) -> list[CallSession]:
    """Set `session.held_by_name` for held sessions: one query, only if any is held."""
    names = usernames({s.held_by_user_id for s in sessions if s.held_by_user_id})
    for session in sessions:
        session.held_by_name = names.get(session.held_by_user_id)
    return sessions


def _failures_counted(*, username: str, address: str, now: datetime) -> QuerySet | None:
    """The `at` of the failed sign-in whose leaving the window ends the lockout of `username`
    from `address`: the limit-th newest within the window (none: not locked out). None if
    there is no limit."""
    limit = settings.AUTH_FAILURE_LIMIT
    if limit <= 0:
        return None
    window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
    recent = AuthFailure.objects.filter(
        username=AuthFailure.username_key(username),
        address=address,
        at__gt=now - window,
    )
    return recent.order_by("-at").values("at")[limit - 1 : limit]


def sign_in_lockout_ends(*, username: str, address: str, now: datetime) -> datetime | None:
    """When the lockout of `username` from `address` ends, or None if it is not locked out.

    Locked out while `AUTH_FAILURE_LIMIT` failures or more lie within the window ending now; it
    ends when the limit-th newest of them leaves the window (refused attempts are not counted,
    so it does end). One indexed query, whatever the number of failures.
    """
    counted = _failures_counted(username=username, address=address, now=now)
    if counted is None:
        return None
    oldest = [row["at"] for row in counted]
    return oldest[0] + timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS) if oldest else None


def user_and_sign_in_lockout(
    *, username: str, address: str, now: datetime
) -> tuple[User | None, datetime | None]:
    """The user `username` names (None: no such user) and when its lockout from `address`
    ends (`sign_in_lockout_ends`), read together in one query when the user exists, so that
    HTTP Basic pays nothing for the lockout check on top of reading its user."""
    counted = _failures_counted(username=username, address=address, now=now)
    users = User.objects.filter(**{User.USERNAME_FIELD: username})
    if counted is None:
        return users.first(), None
    user = users.annotate(sign_in_counted_from=Subquery(counted)).first()
    if user is None:
        return None, sign_in_lockout_ends(username=username, address=address, now=now)
    if user.sign_in_counted_from is None:
        return user, None
    window = timedelta(seconds=settings.AUTH_FAILURE_WINDOW_SECONDS)
    return user, user.sign_in_counted_from + window


def api_sessions_visible_to(user: User) -> QuerySet[ApiAuthSession]:
    """The unexpired API (`ss-id`) sessions `user` may see and revoke: their own, or, for an
    administrator, everyone's; with their user, the most recently used first."""
    sessions = ApiAuthSession.objects.filter(expires__gt=timezone.now()).select_related("user")
    if not sees_all_api_sessions(user):
        sessions = sessions.filter(user=user)
    return sessions.order_by(F("last_used").desc(nulls_last=True), "-created")


# --- for the provider's side: no user, the provider acts for every account ------------------


def number_endpoint(phone_number: str) -> Endpoint | None:
    """The `number` endpoint that owns `phone_number` (the number a caller dialled), with its
    account and customer; None if no account has it."""
    return (
        Endpoint.objects.select_related("account", "customer")
        .filter(kind=Endpoint.Kind.NUMBER, phone_number=phone_number)
        .order_by("id")
        .first()
    )


def session_by_call_sid(call_sid: str) -> CallSession | None:
    """The session whose own call is `call_sid` (a redelivered incoming-call webhook finds the
    session the first one made)."""
    return CallSession.objects.filter(call_sid=call_sid).order_by("-date_created").first()


def sessions_to_reconcile() -> list[CallSession]:
    """Every active voice session with its members: reconciliation asks the provider about
    each one's calls."""
    return list(
        CallSession.objects.filter(ended=False, channel__in=HOLDABLE_CHANNELS)
        .prefetch_related("members")
        .order_by("date_created", "id")
    )
