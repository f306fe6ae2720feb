"""ServiceStack's content negotiation: `.ext` suffix or `?format=` first, then `Accept`, then
JSON. Unlike DRF's default, an unknown `Accept` falls back to JSON instead of answering 406."""

from rest_framework.negotiation import BaseContentNegotiation

ACCEPT_ALIASES = {"text/xml": "application/xml", "text/json": "application/json"}


class ServiceStackNegotiation(BaseContentNegotiation):
    """ServiceStack's content negotiation: the `.ext` suffix, then `?format=`, then
    `Accept`, then JSON."""

    def select_parser(self, request, parsers):
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        content_type = ACCEPT_ALIASES.get(content_type, content_type) or "text/plain"
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        by_format = {r.format: r for r in renderers}
        fmt = (format_suffix or request.query_params.get("format") or "").lower()
        if fmt in by_format:
            renderer = by_format[fmt]
            return renderer, renderer.media_type
        by_media = {r.media_type: r for r in renderers}
        for part in request.META.get("HTTP_ACCEPT", "").split(","):
            media = ACCEPT_ALIASES.get(
                part.split(";")[0].strip().lower(), part.split(";")[0].strip().lower()
            )
            if media in by_media:
                return by_media[media], media
        return renderers[0], renderers[0].media_type
