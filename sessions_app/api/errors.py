"""The one place where errors become ServiceStack error responses (`responseStatus`)."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from sessions_app.errors import (
    DomainError,
    FieldError,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidState,
    NotSupported,
    PreconditionFailed,
    ResourceNotFound,
    SessionNotFound,
    SignInLockedOut,
    TelephonyFailed,
    TelephonyRejected,
    ValidationFailed,
)
from sessions_app.wire import contracts
from sessions_app.wire.dto import error_response

from .wire import WireResponse

logger = logging.getLogger(__name__)

DOMAIN_STATUS = [
    (SessionNotFound, status.HTTP_404_NOT_FOUND),
    (InvalidState, status.HTTP_409_CONFLICT),
    (IdempotencyKeyInUse, status.HTTP_409_CONFLICT),
    (IdempotencyKeyReused, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (PreconditionFailed, status.HTTP_412_PRECONDITION_FAILED),
    (ValidationFailed, status.HTTP_400_BAD_REQUEST),
    (NotSupported, status.HTTP_400_BAD_REQUEST),
    (TelephonyFailed, status.HTTP_502_BAD_GATEWAY),
    (TelephonyRejected, status.HTTP_400_BAD_REQUEST),
    (ResourceNotFound, status.HTTP_404_NOT_FOUND),
    (SignInLockedOut, status.HTTP_429_TOO_MANY_REQUESTS),
]


class PayloadTooLarge(exceptions.APIException):
    """A request body over `API_MAX_BODY_BYTES` (413)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large"
    default_code = "RequestTooLarge"


def error_wire_response(
    http_status: int, code: str, message: str, field_errors=(), headers=None
) -> Response:
    """A ServiceStack error response (`ErrorResponse` with its `ResponseStatus`), in the
    format the request negotiated."""
    values = error_response(error_code=code, message=message, errors=field_errors)
    return WireResponse(contracts.ERROR_RESPONSE, values, status=http_status, headers=headers)


def _drf_error(exc: exceptions.APIException) -> tuple[str, str, tuple]:
    """(errorCode, message, field errors) for a DRF exception."""
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return "Unauthorized", str(exc.detail), ()
    if isinstance(exc, exceptions.PermissionDenied):
        # "Invalid Role" from HasUserRole, or the CSRF failure of a portal-session request.
        return "Forbidden", str(exc.detail), ()
    if isinstance(exc, exceptions.MethodNotAllowed):
        return "MethodNotAllowed", str(exc.detail), ()
    if isinstance(exc, exceptions.ParseError):
        return "SerializationException", str(exc.detail), ()
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return "UnsupportedMediaType", str(exc.detail), ()
    if isinstance(exc, exceptions.NotFound):
        return "NotFound", str(exc.detail), ()
    if isinstance(exc.detail, dict):
        errors = tuple(
            FieldError(
                field, "Invalid", str(messages[0] if isinstance(messages, list) else messages)
            )
            for field, messages in exc.detail.items()
        )
        return "ValidationException", errors[0].message if errors else "Invalid request", errors
    return exc.get_codes() if isinstance(exc.get_codes(), str) else "Error", str(exc.detail), ()


def exception_handler(exc, context):
    """DRF's exception handler: domain errors, DRF's own and anything unexpected become
    ServiceStack error responses; an unexpected one is logged and says no more than
    "An internal error occurred" unless DEBUG is on."""
    if isinstance(exc, DomainError):
        http_status = next(code for kind, code in DOMAIN_STATUS if isinstance(exc, kind))
        headers = None
        if isinstance(exc, PreconditionFailed):  # which version the session is at now
            headers = {"ETag": exc.current_etag}
        elif isinstance(exc, SignInLockedOut):  # when the lockout ends
            headers = {"Retry-After": str(exc.retry_after)}
        return error_wire_response(
            http_status, exc.code, exc.message, exc.field_errors, headers=headers
        )
    if isinstance(exc, Http404):
        return error_wire_response(404, "NotFound", "Not found")
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, exceptions.APIException):
        code, message, errors = _drf_error(exc)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return error_wire_response(exc.status_code, code, message, errors, headers)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    message = f"{type(exc).__name__}: {exc}" if settings.DEBUG else "An internal error occurred"
    return error_wire_response(500, "InternalServerError", message)
