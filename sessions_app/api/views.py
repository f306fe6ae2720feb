"""The API's views, all generic: which operation a request reaches, with which role, is
looked up in the operations registry (`operations.py`); the documented routes and ServiceStack's
predefined routes (`/api/{Operation}`, `/json/reply/{Operation}`, ...) share the handlers."""

from functools import partial

import orjson
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from rest_framework.exceptions import MethodNotAllowed, ParseError
from rest_framework.permissions import SAFE_METHODS, AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sessions_app.errors import ValidationFailed
from sessions_app.wire.jsonfmt import parse_jsconfig, render_json_with, valid_callback

from .errors import error_wire_response
from .idempotency import respond_once
from .operations import Operation, operation_named
from .parsers import read_limited
from .permissions import HasOperationRole
from .requests import read_request
from .wire import WireData


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


class OperationView(APIView):
    """A documented route: `methods` maps its HTTP verbs (lower case) to their operations;
    any verb not listed is a 405. `urls.py` makes one subclass per route path."""

    methods: dict[str, Operation] = {}

    def get_permissions(self):
        operation = self.operation()
        return [AllowAny()] if operation is not None and operation.public else [HasOperationRole()]

    def operation(self) -> Operation | None:
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
        operation = self.operation()
        if operation is not None and operation.writes and request.method in SAFE_METHODS:
            raise MethodNotAllowed(request.method)

    def options(self, request: Request, *args, **kwargs) -> Response:
        # No DRF metadata body (the renderers speak the wire contracts only); `Allow` says it all.
        return Response(status=204)

    def _run(self, request: Request, **kwargs) -> Response:
        operation = self.operation()
        # The route's `{parameters}`, bound to the request DTO's fields by name.
        path = {name: value for name, value in kwargs.items() if name != "format" and value}
        values = read_request(
            operation.request, query=request.query_params, body=request.data, path=path
        )
        if not operation.writes:
            return operation.handler(request, values)
        return respond_once(
            self, request, operation.name, values, lambda: operation.handler(request, values)
        )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A handler exists exactly for the verbs in `methods`: DRF answers 405 for the rest.
        for verb in cls.methods:
            setattr(cls, verb, cls._run)


class PredefinedRouteView(OperationView):
    """ServiceStack's predefined routes: `/api/{Operation}` and `/{format}/reply/{Operation}`,
    answering any verb, as the official ServiceStack clients call them."""

    def operation(self) -> Operation | None:
        return operation_named(self.kwargs.get("operation", ""))

    def handle(self, request, *args, **kwargs):
        if self.operation() is None:
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
        operation = self.operation()
        if operation.public:
            raise ValidationFailed(f"{operation.name} cannot be batched")
        items = _batch_items(request)
        batch = [read_request(operation.request, query={}, body=item, path={}) for item in items]
        run = partial(self._run_batch, request, operation, batch)
        if not operation.writes:
            return run()
        return respond_once(self, request, f"{operation.name}[]", batch, run)

    def _run_batch(self, request: Request, operation: Operation, batch: list[dict]):
        config = parse_jsconfig(request.query_params.get("jsconfig"))  # as for one answer
        bodies = []
        for index, values in enumerate(batch):
            try:
                response = operation.handler(request, values)
            except Exception as exc:  # noqa: BLE001 - answered as the batch's error
                return self._failed(exc, index)
            data = getattr(response, "data", None)
            if not isinstance(data, WireData):  # e.g. a 304 of a conditional read
                return self._failed(
                    ValidationFailed(f"{operation.name} cannot answer in a batch"), index
                )
            bodies.append(render_json_with(data.contract, data.values, config))
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
