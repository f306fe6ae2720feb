"""The operations registry: every operation of the API declared once, with its request and
response DTOs, routes and verbs, required role and description (each field's name, type, enum
and description are in its contract, `sessions_app.wire.contracts`).

Everything else is derived from it: the documented routes and ServiceStack's predefined routes
(`urls.py`), request binding and role checks (`views.py`), the OpenAPI description
(`openapi.py`), the metadata pages (`metadata.py`) and the generated client types
(`native_types.py`). Adding an operation is one declaration here plus its handler.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from sessions_app.models import Role
from sessions_app.webhooks import api as webhook_api
from sessions_app.webhooks import contracts as webhook_contracts
from sessions_app.wire import contracts
from sessions_app.wire.contracts import Contract, Field

from . import handlers

_PARAMETER = re.compile(r"\{(\w+)\}")
# What a path parameter may hold: an id (no `/`, no `.`: a `.json` suffix stays a format).
_PARAMETER_VALUE = "[A-Za-z0-9_-]+"


@dataclass(frozen=True)
class Route:
    """One documented route, as ServiceStack's `[Route(path, verbs)]` declares it."""

    path: str
    verbs: tuple[str, ...]

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the path's `{parameters}`, as written (`sessionId`)."""
        return tuple(_PARAMETER.findall(self.path))

    def regex(self, suffix: str) -> str:
        """The path as a Django `re_path` pattern (no leading `/`), each parameter a named
        group, followed by `suffix` (the optional `.json`/`.xml`/... format)."""
        parts = _PARAMETER.split(self.path.lstrip("/"))
        pattern = "".join(
            f"(?P<{part}>{_PARAMETER_VALUE})" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
        return f"^{pattern}{suffix}$"


@dataclass(frozen=True)
class Operation:
    """One operation. `role`: the least role that may call it (None: anyone, e.g. to sign
    in). `writes`: it changes something (never by GET, and an `Idempotency-Key` makes it safe
    to retry). `etag`: it answers one session with its `ETag` and honours `If-Match` (and, if
    it reads, `If-None-Match`). `provider`: it talks to the telephony provider (a 502 when
    that fails)."""

    request: Contract
    response: Contract
    handler: Callable
    routes: tuple[Route, ...]
    summary: str
    role: str | None = Role.USER
    writes: bool = False
    etag: bool = False
    provider: bool = False
    tag: str = "Sessions"

    @property
    def name(self) -> str:
        return self.request.name

    @property
    def public(self) -> bool:
        return self.role is None

    @property
    def verb(self) -> str:
        """The verb a typed client sends it with, and its sample request shows: its first
        route's, POST where that route takes several (Authenticate: sign in)."""
        verbs = self.routes[0].verbs
        return "POST" if "POST" in verbs else verbs[0]

    def location(self, field: Field, route: Route, verb: str) -> str:
        """Where `field` travels on `route` by `verb`, as ServiceStack's metadata names it:
        `path`, `body` (a verb with a body) or `query`."""
        if field.name.lower() in {p.lower() for p in route.parameters}:
            return "path"
        return "body" if verb in {"POST", "PUT"} else "query"


def _session(path: str, *verbs: str) -> tuple[Route, ...]:
    return (Route(path, verbs),)


OPERATIONS: dict[str, Operation] = {
    operation.name: operation
    for operation in (
        Operation(
            contracts.HOLD_SESSION,
            contracts.SESSION_INFO,
            handlers.hold_session,
            _session("/sessions/{sessionId}/hold", "POST"),
            "Hold a session's call (or, with CallSid, one member's leg).",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.GET_SESSION,
            contracts.SESSION_INFO,
            handlers.get_session,
            _session("/sessions/{sessionId}", "GET"),
            "One session, active or ended.",
            etag=True,
        ),
        Operation(
            contracts.LIST_SESSIONS,
            contracts.LIST_RESPONSE_OF_SESSION_INFO,
            handlers.list_sessions,
            _session("/sessions", "GET"),
            "Sessions (ended ones included), filtered, sorted and paged: Page from 0, "
            "CountPerPage 25 by default and at most 1000; All: every match, at most 1000; "
            "SimplifiedPaging: TotalCount and TotalPages are not counted (0). SortField: Id, "
            "DateCreated (default), DateLastModified, DateCompleted, AccountId, AccountName, "
            "CustomerId, CustomerName, EndpointId, EndpointName, CallState, Channel, Direction, "
            "Ended, FromAddress, FromName, ToAddress, Destination or DisplayName. CustomerIds "
            "include sub-customers; From, To and Log match text they contain, ignoring case (Log "
            "searches at most 5000 sessions: narrow the list first); ParentSessionId matches "
            "nothing (sessions have no parent).",
        ),
        Operation(
            contracts.PATCH_SESSION,
            contracts.SESSION_INFO,
            handlers.patch_session,
            _session("/sessions/{sessionId}", "PATCH"),
            "Change a session's console data, call state, hold reason or queue state; resumes "
            "a held call when CallState leaves Hold.",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.END_SESSION,
            contracts.SESSION_INFO,
            handlers.end_session,
            _session("/sessions/{sessionId}", "DELETE"),
            "End a session (hang up every leg), or with CallSid hang up one member.",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.ADD_CONFERENCE_MEMBER,
            contracts.SESSION_INFO,
            handlers.add_conference_member,
            _session("/sessions/{sessionId}/conference/members", "POST"),
            "Invite a party into the session's conference.",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.UPDATE_CONFERENCE_MEMBER,
            contracts.SESSION_INFO,
            handlers.update_conference_member,
            _session("/sessions/{sessionId}/conference/members/{callSid}", "PATCH"),
            "Hold or resume (Hold), mute or unmute (Muted) one conference member; what is "
            "omitted stays as it is. A member already in the state asked for is a 409.",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.REMOVE_CONFERENCE_MEMBER,
            contracts.SESSION_INFO,
            handlers.remove_conference_member,
            _session("/sessions/{sessionId}/conference/members/{callSid}", "DELETE"),
            "Remove a member from the conference and hang up its leg (the session's own call: "
            "end the session instead).",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.REDIRECT_SESSION,
            contracts.SESSION_INFO,
            handlers.redirect_session,
            _session("/sessions/{sessionId}/redirect", "POST"),
            "Blind transfer: send the session's call to Destination. The call leaves the "
            "conference (which ends with it), so the session ends.",
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.MONITOR_SESSION,
            contracts.SESSION_INFO,
            handlers.monitor_session,
            _session("/sessions/{sessionId}/monitor", "POST"),
            "Supervisors (Manager): ring your phone or client into the call to Listen, Coach "
            "the agent or Barge in; another Mode switches while you monitor, Leave: true stops. "
            "Your leg is not a member; the portal shows who monitors.",
            role=Role.MANAGER,
            writes=True,
            etag=True,
            provider=True,
        ),
        Operation(
            contracts.APP_GET_ACTIVE_SESSIONS,
            contracts.APP_GET_ACTIVE_SESSIONS_RESULT,
            handlers.get_active_sessions,
            _session("/portal/active-sessions", "GET"),
            "The active sessions of the accounts you may see, narrowed by account, customer "
            "(with its sub-customers) and start date.",
        ),
        Operation(
            contracts.AUTHENTICATE,
            contracts.AUTHENTICATE_RESPONSE,
            handlers.authenticate_credentials,
            (Route("/auth", ("GET", "POST")), Route("/auth/{provider}", ("GET", "POST"))),
            "Sign in with a user name and password (provider `credentials`): the answer sets "
            "the `ss-id` cookie. GET says who is signed in; provider `logout` signs out.",
            role=None,
            tag="Authentication",
        ),
        Operation(
            webhook_contracts.CREATE_WEBHOOK,
            webhook_contracts.WEBHOOK_INFO,
            webhook_api.create_webhook,
            (Route("/webhooks", ("POST",)),),
            "Subscribe a URL to an account's session events; the only answer with the secret.",
            role=Role.MANAGER,
            writes=True,
            tag="Webhooks",
        ),
        Operation(
            webhook_contracts.LIST_WEBHOOKS,
            webhook_contracts.LIST_WEBHOOKS_RESPONSE,
            webhook_api.list_webhooks,
            (Route("/webhooks", ("GET",)),),
            "The webhook subscriptions of the accounts you manage.",
            role=Role.MANAGER,
            tag="Webhooks",
        ),
        Operation(
            webhook_contracts.DELETE_WEBHOOK,
            webhook_contracts.WEBHOOK_INFO,
            webhook_api.delete_webhook,
            (Route("/webhooks/{webhookId}", ("DELETE",)),),
            "Delete a webhook subscription with its deliveries.",
            role=Role.MANAGER,
            writes=True,
            tag="Webhooks",
        ),
    )
}


def operation_named(name: str) -> Operation | None:
    """The operation called `name`, ignoring case (as ServiceStack's predefined routes match)."""
    return _BY_LOWER_NAME.get(name.lower())


_BY_LOWER_NAME = {name.lower(): operation for name, operation in OPERATIONS.items()}


def routes_by_path() -> dict[str, dict[str, Operation]]:
    """{path: {verb: operation}} over every documented route, in declaration order."""
    table: dict[str, dict[str, Operation]] = {}
    for operation in OPERATIONS.values():
        for route in operation.routes:
            for verb in route.verbs:
                table.setdefault(route.path, {})[verb] = operation
    return table
