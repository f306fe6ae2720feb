"""Who may see what: one predicate used by the API and the portal alike."""

from django.db.models import Q

from .models import Role, User

ROLE_RANK = {Role.NONE: 0, Role.USER: 1, Role.MANAGER: 2, Role.SYSTEM_ADMINISTRATOR: 3}


def has_role(user, role: str) -> bool:
    """True if the user is signed in with `role` or a higher one."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    return ROLE_RANK.get(user.role, 0) >= ROLE_RANK[role]


def account_scope(user: User, field: str = "account_id") -> Q:
    """A filter limiting any queryset to the accounts `user` may see (all for admins).

    `field` names the account column of the queryset's model. The account ids come from a
    subquery, so the scope costs no extra round trip.
    """
    if not has_role(user, Role.USER):
        return Q(pk__in=[])
    if user.sees_all_accounts:
        return Q()
    return Q(**{f"{field}__in": user.accounts.values("id")})
