"""The Evo Voice operations. Each handler reads its request DTO, calls one service or
selector, and answers one DTO; the documented routes and ServiceStack's predefined routes
(`/api/{Operation}`, `/json/reply/{Operation}`, ...) share the same handlers."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import orjson
from django.contrib.auth import authenticate
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import parse_etags
from rest_framework.exceptions import MethodNotAllowed, ParseError
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions_app import documents, selectors, services
from sessions_app.dates import parse_start_date
from sessions_app.errors import PreconditionFailed, ValidationFailed
from sessions_app.models import HoldReason, Via
from sessions_app.webhooks import api as webhook_api
from sessions_app.webhooks import contracts as webhook_contracts
from sessions_app.wire import contracts, dto
from sessions_app.wire.contracts import Contract
from sessions_app.wire.jsonfmt import Encoded, parse_json, render_json, valid_callback

from .authentication import end_api_session, start_api_session
from .errors import error_wire_response
from .idempotency import respond_once
from .parsers import read_limited
from .permissions import HasUserRole
from .requests import read_request
from .wire import WireData, WireResponse


def _actor(request: Request) -> services.Actor:
    return services.Actor(user=request.user, via=Via.API)


def _session_id(values: dict) -> str:
    session_id = values.get("SessionId")
    if not session_id:
        raise ValidationFailed.for_field("SessionId", "NotEmpty", "'SessionId' must not be empty.")
    return session_id


def _answers_json(request: Request) -> bool:
    """Whether the negotiated format is JSON (or JSONP): answered from stored documents."""
    return request.accepted_renderer.format in {"json", "jsonp"}


def _session_response(request: Request, session_id: str, *, changed: bool = False) -> Response:
    """The session's `SessionInfo` with its `ETag`, from its stored document; `changed`: the
    handler has just changed it."""
    json, etag = documents.session_document_for(
        user=request.user, session_id=session_id, changed=changed
    )
    return WireResponse(contracts.SESSION_INFO, _values(request, json), headers={"ETag": etag})


def _values(request: Request, json: str | bytes):
    """A JSON document as the response's values: as it is for JSON, read back into values for
    the other formats (the same values it was rendered from)."""
    return Encoded(json) if _answers_json(request) else parse_json(contracts.SESSION_INFO, json)


def _if_match(request: Request) -> list[str] | None:
    """The `ETag`s a write's `If-Match` accepts ("*": any), or None without the header."""
    header = request.headers.get("If-Match")
    return None if header is None else parse_etags(header)


def hold_session(request: Request, values: dict) -> Response:
    """`HoldSession`: hold the session's call (or a member's), answer its `SessionInfo`."""
    session_id = _session_id(values)
    services.session_hold(
        actor=_actor(request),
        session_id=session_id,
        call_sid=values.get("CallSid") or None,
        reason=values.get("Reason") or HoldReason.NONE,
        if_match=_if_match(request),
    )
    return _session_response(request, session_id, changed=True)


def patch_session(request: Request, values: dict) -> Response:
    """`PatchSession`: change what is given, answer the `SessionInfo`."""
    session_id = _session_id(values)
    services.session_patch(
        actor=_actor(request),
        session_id=session_id,
        console_data=values.get("ConsoleData", services.UNSET),
        call_state=values.get("CallState"),
        hold_reason=values.get("HoldReason"),
        queue_state=values.get("QueueState"),
        if_match=_if_match(request),
    )
    return _session_response(request, session_id, changed=True)


def add_conference_member(request: Request, values: dict) -> Response:
    """`AddConferenceMember`: dial a destination into the conference, answer the
    `SessionInfo`."""
    session_id = _session_id(values)
    services.conference_member_add(
        actor=_actor(request),
        session_id=session_id,
        destination=values.get("Destination"),
        from_number=values.get("FromNumber") or None,
        call_sid=values.get("CallSid") or None,
        if_match=_if_match(request),
    )
    return _session_response(request, session_id, changed=True)


def get_active_sessions(request: Request, values: dict) -> Response:
    """`AppGetActiveSessions`: the user's active sessions, narrowed as asked, from their stored
    documents (in XML and CSV, the values read back from them)."""
    filters = {
        "user": request.user,
        "account_id": values.get("AccountId") or None,
        "customer_id": values.get("CustomerId") or None,
        "start_date": parse_start_date(values.get("StartDate")),
    }
    found = documents.session_documents_active_for(**filters)
    return WireResponse(
        contracts.APP_GET_ACTIVE_SESSIONS_RESULT,
        dto.active_sessions_result(_values(request, json) for json in found),
    )


def get_session(request: Request, values: dict) -> HttpResponseBase:
    """`GetSession`: one session of the user's, ended or not. With `If-None-Match` naming its
    current `ETag`, a 304 with no body, decided before the `SessionInfo` is built."""
    session_id = _session_id(values)
    if not ({"If-None-Match", "If-Match"} & request.headers.keys()):
        return _session_response(request, session_id)
    etag = selectors.session_etag_for(user=request.user, session_id=session_id)
    conditional = get_conditional_response(request._request, etag=etag)
    if conditional is not None and conditional.status_code == 412:  # an unmatched `If-Match`
        raise PreconditionFailed(etag)
    if conditional is not None:  # 304 Not Modified
        conditional["ETag"] = etag
        return conditional
    return _session_response(request, session_id)


def end_session(request: Request, values: dict) -> Response:
    """`EndSession`: end the session, or hang up one member with `CallSid`."""
    session_id = _session_id(values)
    services.session_end(
        actor=_actor(request),
        session_id=session_id,
        call_sid=values.get("CallSid") or None,
        if_match=_if_match(request),
    )
    return _session_response(request, session_id, changed=True)


def _auth_response(request: Request, user, session_id: str | None = None) -> Response:
    accounts = list(selectors.accounts_visible_to(user).values_list("id", "name"))
    return WireResponse(
        contracts.AUTHENTICATE_RESPONSE,
        {
            "UserId": user.id,
            "SessionId": session_id,
            "UserName": user.get_username(),
            "DisplayName": user.get_full_name() or user.get_username(),
            "Roles": user.evo_roles,
            "Permissions": [],
            "AccountIds": [account_id for account_id, _ in accounts],
            "AccountNames": [name for _, name in accounts],
        },
    )


def authenticate_credentials(request: Request, values: dict) -> Response:
    """`POST /auth/credentials`: check the password and start an `ss-id` cookie session."""
    provider = (values.get("provider") or "credentials").lower()
    if provider == "logout":
        return logout(request, values)
    if request.method in SAFE_METHODS:  # never sign in by GET: passwords in URLs end up in logs
        if not request.user.is_authenticated:
            return error_wire_response(401, "Unauthorized", "Not Authenticated")
        return _auth_response(request, request.user)
    if provider != "credentials":
        raise ValidationFailed.for_field(
            "provider", "NotSupported", f"No auth provider '{provider}'."
        )
    user = authenticate(
        request._request,
        username=values.get("UserName") or "",
        password=values.get("Password") or "",
    )
    if user is None or not user.is_active:
        return error_wire_response(401, "Unauthorized", "Invalid UserName or Password")
    response = _auth_response(request, user)
    token = start_api_session(response, user, remember_me=bool(values.get("RememberMe")))
    response.data.values["SessionId"] = token
    # A new session token: never cached, never compressed (portal.middleware).
    response["Cache-Control"] = "no-store"
    return response


def logout(request: Request, values: dict) -> Response:
    """`POST /auth/logout`: end the `ss-id` session."""
    response = Response(status=204)
    end_api_session(request, response)
    return response


@dataclass(frozen=True)
class Operation:
    """One operation: its request contract, its handler, whether it needs no sign-in and
    whether it writes (never by GET)."""

    contract: Contract
    handler: Callable[[Request, dict], Response]
    public: bool = False
    writes: bool = False


OPERATIONS: dict[str, Operation] = {
    "HoldSession": Operation(contracts.HOLD_SESSION, hold_session, writes=True),
    "PatchSession": Operation(contracts.PATCH_SESSION, patch_session, writes=True),
    "AddConferenceMember": Operation(
        contracts.ADD_CONFERENCE_MEMBER, add_conference_member, writes=True
    ),
    "AppGetActiveSessions": Operation(contracts.APP_GET_ACTIVE_SESSIONS, get_active_sessions),
    "GetSession": Operation(contracts.GET_SESSION, get_session),
    "EndSession": Operation(contracts.END_SESSION, end_session, writes=True),
    "Authenticate": Operation(contracts.AUTHENTICATE, authenticate_credentials, public=True),
    # Webhooks: a Manager of the account, or a SystemAdministrator
    "CreateWebhook": Operation(
        webhook_contracts.CREATE_WEBHOOK, webhook_api.create_webhook, writes=True
    ),
    "ListWebhooks": Operation(webhook_contracts.LIST_WEBHOOKS, webhook_api.list_webhooks),
    "DeleteWebhook": Operation(
        webhook_contracts.DELETE_WEBHOOK, webhook_api.delete_webhook, writes=True
    ),
}


def _read_chunked_body(request: Request) -> None:
    """A body sent with `Transfer-Encoding: chunked` has no `Content-Length`, and DRF reads a
    body without one as empty: read it here, within the size limit (413 past it), so that it is
    parsed like any other."""
    django_request = request._request
    if "CONTENT_LENGTH" in django_request.META:
        return
    if "chunked" not in django_request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return
    body = read_limited(django_request)
    django_request._body = body
    django_request.META["CONTENT_LENGTH"] = str(len(body))


# The routes' path parameters and the request DTO fields they bind.
PATH_FIELDS = {"session_id": "SessionId", "provider": "provider", "webhook_id": "WebhookId"}


class OperationView(APIView):
    """Base: `methods` maps HTTP verbs to operation names; any verb not listed is a 405."""

    methods: dict[str, str] = {}

    def get_permissions(self):
        operation = OPERATIONS.get(self._operation_name())
        if operation is not None and operation.public:
            return [AllowAny()]
        return [HasUserRole()]

    def _operation_name(self) -> str | None:
        verb = self.request.method.lower()
        # HEAD is GET without the body (Django answers it with the GET handler).
        return self.methods.get("get" if verb == "head" else verb)

    def initialize_request(self, request, *args, **kwargs):
        # ServiceStack's clients send PATCH and DELETE as a POST with this header where the
        # platform cannot send those verbs. Only to another unsafe verb: CSRF checks stay on.
        override = request.headers.get("X-HTTP-Method-Override", "").strip().upper()
        if request.method == "POST" and override in {"PUT", "PATCH", "DELETE"}:
            request.method = override
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request: Request, *args, **kwargs) -> None:
        _read_chunked_body(request)
        super().initial(request, *args, **kwargs)
        # A JSONP callback that is not a plain identifier is refused, never echoed or executed.
        callback = request.query_params.get("callback")
        if callback and not valid_callback(callback):
            raise ValidationFailed.for_field(
                "callback", "InvalidCallback", "'callback' must be a JavaScript identifier."
            )
        # The predefined routes answer any verb, but never a write by GET or HEAD: a cross-site
        # link would carry the browser's portal cookie or cached Basic credentials, and CSRF
        # checks only cover unsafe verbs. (ServiceStack clients send writes with POST.)
        operation = OPERATIONS.get(self._operation_name() or "")
        if operation is not None and operation.writes and request.method in SAFE_METHODS:
            raise MethodNotAllowed(request.method)

    def options(self, request: Request, *args, **kwargs) -> Response:
        # No DRF metadata body (the renderers speak the wire contracts only); `Allow` says it all.
        return Response(status=204)

    def _run(self, request: Request, **kwargs) -> Response:
        operation = OPERATIONS[self._operation_name()]
        path = {field: kwargs[name] for name, field in PATH_FIELDS.items() if kwargs.get(name)}
        values = read_request(
            operation.contract, query=request.query_params, body=request.data, path=path
        )
        if not operation.writes:
            return operation.handler(request, values)
        return respond_once(
            self,
            request,
            operation.contract.name,
            values,
            lambda: operation.handler(request, values),
        )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A handler exists exactly for the verbs in `methods`: DRF answers 405 for the rest.
        for verb in cls.methods:
            setattr(cls, verb, cls._run)


class HoldSessionView(OperationView):
    """`POST /sessions/{sessionId}/hold`."""

    methods = {"post": "HoldSession"}


class SessionView(OperationView):
    """`GET`, `PATCH` and `DELETE /sessions/{sessionId}`."""

    methods = {"get": "GetSession", "patch": "PatchSession", "delete": "EndSession"}


class ConferenceMembersView(OperationView):
    """`POST /sessions/{sessionId}/conference/members`."""

    methods = {"post": "AddConferenceMember"}


class ActiveSessionsView(OperationView):
    """`GET /portal/active-sessions`."""

    methods = {"get": "AppGetActiveSessions"}


class AuthView(OperationView):
    """`/auth` (GET: who am I), `/auth/credentials` and `/auth/{provider}` (POST: sign in)."""

    methods = {"get": "Authenticate", "post": "Authenticate"}


class PredefinedRouteView(OperationView):
    """ServiceStack's predefined routes: `/api/{Operation}` and `/{format}/reply/{Operation}`,
    answering any verb, as the official ServiceStack clients call them."""

    def _operation_name(self) -> str | None:
        name = self.kwargs.get("operation", "")
        return next((op for op in OPERATIONS if op.lower() == name.lower()), None)

    def handle(self, request, *args, **kwargs):
        if self._operation_name() is None:
            return error_wire_response(
                404, "NotFound", f"Unknown operation '{kwargs.get('operation')}'"
            )
        return self._run(request, **kwargs)

    get = post = put = patch = delete = handle


class BatchView(PredefinedRouteView):
    """ServiceStack's auto-batched requests, `/api/{Operation}[]` and `/json/reply/{Operation}[]`:
    a JSON array of request DTOs, executed one at a time in order, each exactly as if sent on
    its own (its own action, its own transaction); the answer is the JSON array of their
    responses. The first failure stops the batch: its error response says which request failed
    (`ResponseStatus.Meta.AutoBatchIndex`), and `X-AutoBatch-Completed` how many were done
    before it. With an `Idempotency-Key`, the batch as a whole is the request."""

    def _run(self, request: Request, **kwargs) -> HttpResponseBase:
        operation = OPERATIONS[self._operation_name()]
        if operation.public:
            raise ValidationFailed(f"{operation.contract.name} cannot be batched")
        items = _batch_items(request)
        batch = [read_request(operation.contract, query={}, body=item, path={}) for item in items]
        run = partial(self._run_batch, request, operation, batch)
        if not operation.writes:
            return run()
        return respond_once(self, request, f"{operation.contract.name}[]", batch, run)

    def _run_batch(self, request: Request, operation: Operation, batch: list[dict]):
        bodies = []
        for index, values in enumerate(batch):
            try:
                response = operation.handler(request, values)
            except Exception as exc:  # noqa: BLE001 - answered as the batch's error
                return self._failed(exc, index)
            data = getattr(response, "data", None)
            if not isinstance(data, WireData):  # e.g. a 304 of a conditional read
                return self._failed(
                    ValidationFailed(f"{operation.contract.name} cannot answer in a batch"), index
                )
            bodies.append(render_json(data.contract, data.values))
        answer = HttpResponse(
            b"[" + b",".join(bodies) + b"]", content_type="application/json; charset=utf-8"
        )
        answer["X-AutoBatch-Completed"] = str(len(bodies))
        return answer

    def _failed(self, exc: Exception, index: int) -> HttpResponseBase:
        response = self.handle_exception(exc)
        if isinstance(response.data, WireData) and "ResponseStatus" in response.data.values:
            status = response.data.values["ResponseStatus"]
            status["Meta"] = {**(status.get("Meta") or {}), "AutoBatchIndex": str(index)}
        response["X-AutoBatch-Completed"] = str(index)
        return response


def _batch_items(request: Request) -> list[dict]:
    """The batch's request DTOs: the body must be a JSON array of objects."""
    body = request._request.body
    try:
        items = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError as error:
        raise ParseError(f"Malformed JSON: {error}") from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ParseError("A batch is a JSON array of request objects")
    return items


class UnknownRouteView(APIView):
    """Any other path under the API's prefixes: a ServiceStack 404, in the negotiated format,
    rather than the portal's HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []

    def handle(self, request, *args, **kwargs):
        return error_wire_response(404, "NotFound", f"No route for {request.path}")

    get = post = put = patch = delete = handle


class WebhooksView(OperationView):
    """`GET /webhooks` (list) and `POST /webhooks` (create)."""

    methods = {"get": "ListWebhooks", "post": "CreateWebhook"}


class WebhookView(OperationView):
    """`DELETE /webhooks/{webhookId}`."""

    methods = {"delete": "DeleteWebhook"}
