"""The `Idempotency-Key` request header on writes (IETF draft
`draft-ietf-httpapi-idempotency-key-header`), over `services.idempotency`.

What is stored: an answer after which something may have been done (a success, a provider
failure, an unexpected error). A 4xx answer means the unit refused the write and changed
nothing, so its key is released and a retry simply runs again: it cannot act twice.
"""

import hashlib
from collections.abc import Callable

import orjson
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from rest_framework.request import Request

from sessions_app.errors import ValidationFailed
from sessions_app.services.idempotency import (
    StoredAnswer,
    idempotency_key_begin,
    idempotency_key_complete,
    idempotency_key_release,
)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# The headers of a stored answer that a replay sends again (the rest are the server's own).
# Cache-Control: an answer that carries a secret says `no-store`, again when replayed.
_REPLAYED_HEADERS = ("Content-Type", "ETag", "Cache-Control")


def request_key(request: Request) -> str | None:
    """The request's idempotency key, or None without the header. The draft sends it as a
    Structured Field string (`"..."`); a bare token, as many clients send, is accepted too."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise ValidationFailed.for_field(
            HEADER,
            "InvalidIdempotencyKey",
            f"'{HEADER}' must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
        )
    return key


def fingerprint(operation: str, values: dict) -> str:
    """What makes two requests the same request: the operation and its bound values, whatever
    route, format or field order carried them."""
    return hashlib.sha256(
        orjson.dumps([operation, values], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


def respond_once(
    view, request: Request, operation: str, values: dict, handle: Callable[[], HttpResponseBase]
) -> HttpResponseBase:
    """`handle()`'s response; with an `Idempotency-Key`, at most once per key: a retry gets
    the stored answer, marked `Idempotent-Replayed: true`."""
    key = request_key(request)
    if key is None:
        return handle()
    begun = idempotency_key_begin(
        user=request.user, key=key, fingerprint=fingerprint(operation, values)
    )
    if isinstance(begun, StoredAnswer):
        return HttpResponse(
            begun.body,
            status=begun.status,
            headers={**begun.headers, "Idempotent-Replayed": "true"},
        )
    try:
        response = handle()
    except Exception as exc:  # noqa: BLE001 - answered (and stored) like any other answer
        response = view.handle_exception(exc)
    if 400 <= response.status_code < 500:
        idempotency_key_release(begun)
        return response
    response = view.finalize_response(request, response)
    if hasattr(response, "render"):  # a DRF response; a batch's is already bytes
        response.render()
    headers = {name: response[name] for name in _REPLAYED_HEADERS if response.has_header(name)}
    idempotency_key_complete(begun, StoredAnswer(response.status_code, headers, response.content))
    return response
