"""Who may call an operation."""

from rest_framework.permissions import BasePermission

from sessions_app.models import Role
from sessions_app.permissions import has_role


class HasUserRole(BasePermission):
    """Every operation needs the role `User` or higher (403 `Invalid Role` otherwise)."""

    message = "Invalid Role"

    def has_permission(self, request, view):
        return has_role(request.user, Role.USER)
