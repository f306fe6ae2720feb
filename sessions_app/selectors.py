"""Every read. Each selector takes the user and returns only what that user may see, with the
related rows already loaded, so callers never filter by account or trigger lazy queries."""

import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import orjson
from django.db.models import CharField, Func, Max, Prefetch, QuerySet, TextField
from django.db.models.functions import Cast

from .errors import SessionNotFound
from .eventlog import render_message
from .models import Account, CallSession, Customer, SessionEvent, SessionMember, User
from .permissions import account_scope


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


def session_records(queryset: QuerySet[CallSession]) -> list[dict]:
    """`queryset` as dicts, newest first: the session's columns (model attribute names) plus
    `account__name`, `customer__name`, `endpoint__name`, `document__revision` (the revision
    of its `SessionDocument` as this record was read), `members` and `log` (lists of dicts in
    their order: `log` has each event's `date` and rendered `message`) and `breadcrumb` (dicts
    of `id` and `name` from the top customer down). Four queries, whatever the number of
    sessions."""
    records = list(queryset.order_by("-date_created", "-id").values(*_SESSION_COLUMNS))
    if not records:
        return records
    # The sessions again as a subquery, rather than 500 ids as parameters to bind and send.
    ids = queryset.order_by().values("pk")
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
