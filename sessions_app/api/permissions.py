"""Who may call an operation."""

from rest_framework.permissions import BasePermission

from sessions_app.models import Role
from sessions_app.permissions import has_role


class HasUserRole(BasePermission):
    """The role `User` or higher (403 `Invalid Role` otherwise): the default of views outside
    the operations registry (Server Events)."""

    message = "Invalid Role"

    def has_permission(self, request, view):
        return has_role(request.user, Role.USER)


class HasOperationRole(BasePermission):
    """The role the operations registry requires of the view's operation, or a higher one
    (403 `Invalid Role` otherwise)."""

    message = "Invalid Role"

    def has_permission(self, request, view):
        operation = view.operation()
        return operation is None or has_role(request.user, operation.role)
