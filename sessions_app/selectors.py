"""Every read. Each selector takes the user and returns only what that user may see, with the
related rows already loaded, so callers never filter by account or trigger lazy queries."""

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from .errors import SessionNotFound
from .models import Account, CallSession, Customer, SessionLogEntry, SessionMember, User
from .permissions import account_scope


def accounts_visible_to(user: User) -> QuerySet[Account]:
    return Account.objects.filter(account_scope(user, "id"))


def customers_visible_to(user: User) -> QuerySet[Customer]:
    return Customer.objects.filter(account_scope(user)).select_related("account")


def sessions_visible_to(user: User) -> QuerySet[CallSession]:
    """Sessions of the user's accounts, unloaded: for locking and existence checks."""
    return CallSession.objects.filter(account_scope(user))


def _with_details(queryset: QuerySet[CallSession]) -> QuerySet[CallSession]:
    return queryset.select_related("account", "customer", "endpoint").prefetch_related(
        Prefetch("members", queryset=SessionMember.objects.order_by("date_created", "id")),
        Prefetch("log", queryset=SessionLogEntry.objects.order_by("date", "id")),
    )


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


def sessions_loaded(queryset: QuerySet[CallSession]) -> list[CallSession]:
    """Evaluate `queryset` newest first with account, customer, endpoint, members, log and
    breadcrumb loaded: a constant number of queries whatever the number of sessions."""
    return attach_breadcrumbs(list(_with_details(queryset).order_by("-date_created", "-id")))


def sessions_active_for(**filters) -> list[CallSession]:
    """`sessions_active_queryset(**filters)`, loaded (see `sessions_loaded`)."""
    return sessions_loaded(sessions_active_queryset(**filters))


def session_get_for(*, user: User, session_id: str) -> CallSession:
    """One session with everything loaded, or SessionNotFound if it is not the user's."""
    sessions = list(_with_details(sessions_visible_to(user).filter(pk=session_id)))
    if not sessions:
        raise SessionNotFound(session_id)
    return attach_breadcrumbs(sessions)[0]


def attach_holder_names(sessions: list[CallSession]) -> list[CallSession]:
    """Set `session.held_by_name` for held sessions: one query, only if any is held."""
    ids = {s.held_by_user_id for s in sessions if s.held_by_user_id}
    names = dict(User.objects.filter(pk__in=ids).values_list("id", "username")) if ids else {}
    for session in sessions:
        session.held_by_name = names.get(session.held_by_user_id)
    return sessions
