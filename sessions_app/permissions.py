"""Who may see what: one predicate used by the API, the portal and the live streams."""

from django.db.models import Q, QuerySet

from .models import Role, User, role_rank


def has_role(user, role: str) -> bool:
    """True if the user is signed in with `role` or a higher one."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return role_rank(user.role) >= role_rank(role)


def sees_all_api_sessions(user) -> bool:
    """Administrators see and revoke every user's API sessions; anyone else only their own."""
    return has_role(user, Role.SYSTEM_ADMINISTRATOR)


def account_ids_visible_to(user) -> QuerySet | list | None:
    """The ids of the accounts `user` may see: None for all of them (administrators), else a
    lazy query (or an empty list for a user without a role)."""
    if not has_role(user, Role.USER):
        return []
    if user.sees_all_accounts:
        return None
    # From the link table alone: no join to the accounts (a foreign key says they exist).
    memberships = User.accounts.through.objects.filter(user_id=user.pk)
    return memberships.values_list("account_id", flat=True)


def account_scope(user: User, field: str = "account_id") -> Q:
    """A filter limiting any queryset to the accounts `user` may see (all for admins).

    `field` names the account column of the queryset's model. The account ids come from a
    subquery, so the scope costs no extra round trip.
    """
    ids = account_ids_visible_to(user)
    if ids is None:
        return Q()
    if isinstance(ids, list):
        return Q(pk__in=[])
    return Q(**{f"{field}__in": ids})
