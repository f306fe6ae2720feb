"""The project's own middleware: a strict Content-Security-Policy.

It is plain (synchronous) middleware, and the innermost of all
(settings.MIDDLEWARE): under ASGI, Django then runs the whole chain in one thread hop per
request, instead of hopping between the event loop and a thread for each hook of each
middleware that can run both ways (several milliseconds a request).
"""

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
