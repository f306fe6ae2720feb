"""Domain errors. Services raise these; the API maps them to ServiceStack errors in one place
(`api/errors.py`) and the portal turns them into sentences. Services never import DRF."""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a request: ServiceStack's `ResponseError`."""

    field: str
    code: str
    message: str


class DomainError(Exception):
    """Base class: `code` is the ServiceStack `errorCode`, `str(self)` the message."""

    code = "Error"

    def __init__(self, message: str, *, field_errors: tuple[FieldError, ...] = ()):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors


class ValidationFailed(DomainError):
    """The request is malformed or a field is invalid (400)."""

    code = "ValidationException"

    @classmethod
    def for_field(cls, field: str, code: str, message: str) -> "ValidationFailed":
        error = cls(message, field_errors=(FieldError(field, code, message),))
        error.code = code
        return error


class NotSupported(DomainError):
    """The action makes no sense for this kind of session, e.g. holding a chat (400)."""

    code = "NotSupported"


class SessionNotFound(DomainError):
    """No such session, or one the user may not see: the two are indistinguishable (404)."""

    code = "NotFound"

    def __init__(self, session_id: str):
        super().__init__(f"Session '{session_id}' does not exist")


class InvalidState(DomainError):
    """The session's state does not allow the action (409); the message names the state."""

    code = "InvalidState"


class SessionEnded(InvalidState):
    """The session has ended: it accepts no action (409). `origin` says by whom and when,
    e.g. 'by bob via portal at 14:05:11 UTC'."""

    code = "SessionEnded"

    def __init__(self, origin: str = ""):
        super().__init__(f"The session has already ended{f' ({origin})' if origin else ''}")


class TelephonyFailed(DomainError):
    """The telephony provider refused or failed the action (502). Only what the provider
    really did before failing is recorded, with the failure, as the session's event."""

    code = "TelephonyError"


class TelephonyConflict(InvalidState):
    """The telephony provider says the call is not in a state for the action (409), e.g.
    Twilio's 21220 "Call is not in-progress"; the message carries the provider's. Nothing is
    recorded but the refusal."""

    code = "InvalidState"


class TelephonyRejected(DomainError):
    """The telephony provider refused what was asked of it (400), e.g. a number it cannot
    call; the message carries the provider's. Nothing is recorded but the refusal."""

    code = "TelephonyRejected"


class ActionInProgress(InvalidState):
    """Another action's provider call on this session has not finished (409)."""

    code = "ActionInProgress"

    def __init__(self, *, action: str, started_by: str, started_at):
        """`started_by` reads like 'alice via API' or 'the system'."""
        super().__init__(
            f"Another action is in progress on this session: {action}, started by "
            f"{started_by} at {started_at:%H:%M:%S} UTC"
        )
        self.action = action


class PreconditionFailed(DomainError):
    """An `If-Match` write whose session has changed since the client read it (412): nothing
    is done; the message carries the session's current `ETag`."""

    code = "PreconditionFailed"

    def __init__(self, current_etag: str):
        super().__init__(
            f"The session has changed since it was read: its ETag is now {current_etag}"
        )
        self.current_etag = current_etag


class IdempotencyKeyInUse(DomainError):
    """A retry that arrived while the first request with its `Idempotency-Key` is still
    running (409): the client should retry later, when the first one's answer is stored."""

    code = "IdempotencyKeyInUse"

    def __init__(self, started_at):
        super().__init__(
            "A request with this Idempotency-Key is still being processed "
            f"(since {started_at:%H:%M:%S} UTC); retry once it has finished"
        )


class IdempotencyKeyReused(DomainError):
    """An `Idempotency-Key` sent again with a different request (422): keys identify one
    request; a different request needs a new key."""

    code = "IdempotencyKeyReused"

    def __init__(self):
        super().__init__(
            "This Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )


class ResourceNotFound(DomainError):
    """No such thing (a webhook, a delivery), or one the user may not manage: the two are
    indistinguishable (404)."""

    code = "NotFound"


class SignInLockedOut(DomainError):
    """Too many failed sign-ins for this username from this address (429): the attempt is
    refused before any password is checked, the right one included, for `retry_after`
    seconds (`sessions_app.signin`)."""

    code = "TooManyRequests"

    def __init__(self, retry_after: int):
        super().__init__(
            "Too many failed sign-in attempts for this user from your address; "
            f"try again in {_duration(retry_after)}"
        )
        self.retry_after = retry_after


def _duration(seconds: int) -> str:
    """`45 seconds`, `1 minute`, `15 minutes`: a wait in words, rounded up to whole minutes
    past the first one."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
