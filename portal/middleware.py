"""The project's own middleware: a strict Content-Security-Policy, and gzip for large answers.

Both are plain (synchronous) middleware, and the policy's is the innermost of all
(settings.MIDDLEWARE): under ASGI, Django then runs the whole chain in one thread hop per
request, instead of hopping between the event loop and a thread for each hook of each
middleware that can run both ways (several milliseconds a request).
"""

import gzip
import re
import secrets
import string

from django.utils.cache import patch_vary_headers

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class ContentSecurityPolicyMiddleware:
    """Sends the content security policy on every response: our own scripts and styles
    only, no inline script, no framing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", POLICY)
        return response


# Smaller bodies are sent as they are: compressing them saves too little to be worth it.
COMPRESS_MIN_BYTES = 1024
# zlib's fastest level: a list of 500 sessions (1.4 MB of JSON) in about 8 ms, to a tenth of its
# size; the default level (6) takes ten times as long for a quarter less.
COMPRESS_LEVEL = 1
COMPRESSIBLE_TYPES = re.compile(
    r"^(text/|application/(json|xml|javascript|problem\+json)|image/svg\+xml)"
)
# Heal the Breach, as Django's GZipMiddleware does: up to this many random bytes in the gzip
# header's file name, so that a body's compressed length varies from one response to the next.
RANDOM_BYTES = 100


class CompressionMiddleware:
    """gzip for large answers, when the client asks for it (`Accept-Encoding`).

    The one rule of what is compressed. A response is compressed only if all hold:
    - the client accepts gzip (`gzip` or `*`, not with `q=0`);
    - it is not streamed: event streams (`/event-stream`, the portal's `/live/events`) never
      are, so that every event reaches the client when it is sent;
    - it is not already encoded, and its type is text (HTML, JSON, XML, CSV, JavaScript);
    - its body has at least COMPRESS_MIN_BYTES;
    - it carries no `ETag`: a single session's `SessionInfo` is sent as it is, so that its
      ETag stays the strong validator that `If-Match` compares (a compressed body would need
      a weak one, which `If-Match` never matches);
    - it is not marked `Cache-Control: no-store`, which is how the app marks an answer that
      carries a secret (a webhook's signing secret, a new API session token) along with what
      the client sent. Compressing those would let an attacker who can both choose part of a
      request and watch the length of the answer guess the secret byte by byte (BREACH).
      Other pages carry the CSRF token, which Django masks afresh for every response (its own
      defence against BREACH), and every compressed body has a random-length header.
    Every response that could be compressed but for the client's choice says
    `Vary: Accept-Encoding`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not compressible(response):
            return response
        patch_vary_headers(response, ("Accept-Encoding",))
        if not accepts_gzip(request.headers.get("Accept-Encoding", "")):
            return response
        response.content = compress(response.content)
        response["Content-Length"] = str(len(response.content))
        response["Content-Encoding"] = "gzip"
        return response


def compressible(response) -> bool:
    """Whether `response` may be compressed for a client that asks (the rule above)."""
    return not (
        response.streaming
        or response.has_header("Content-Encoding")
        or response.has_header("ETag")
        or "no-store" in response.get("Cache-Control", "")
        or not COMPRESSIBLE_TYPES.match(response.get("Content-Type", ""))
        or len(response.content) < COMPRESS_MIN_BYTES
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an `Accept-Encoding` header accepts gzip (RFC 9110: `gzip` or `x-gzip`, else
    `*`; a q-value of 0 refuses)."""
    weights = {}
    for part in accept_encoding.split(","):
        coding, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding.lower()] = weight
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def compress(body: bytes) -> bytes:
    """`body` gzipped, with a random file name of random length in the header."""
    compressed = gzip.compress(body, compresslevel=COMPRESS_LEVEL, mtime=0)
    length = 1 + secrets.randbelow(RANDOM_BYTES)
    name = "".join(secrets.choice(string.ascii_letters) for _ in range(length)).encode()
    header = bytearray(compressed[:10])
    header[3] |= gzip.FNAME
    return bytes(header) + name + b"\0" + compressed[10:]
