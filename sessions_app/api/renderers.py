"""JSON (with JSONP), XML and CSV renderers over the contracts in `sessions_app.wire`."""

from rest_framework.renderers import BaseRenderer

from sessions_app.wire.csvfmt import render_csv
from sessions_app.wire.jsonfmt import (
    parse_jsconfig,
    render_json,
    render_json_with,
    render_jsonp,
    valid_callback,
)
from sessions_app.wire.jsvfmt import render_jsv
from sessions_app.wire.xmlfmt import render_xml

from .wire import WireData


class _WireRenderer(BaseRenderer):
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if not isinstance(data, WireData):  # e.g. DRF's own 404 page for a stray view
            raise TypeError(f"{type(self).__name__} renders WireData only")
        return self.encode(data)


class ServiceStackJSONRenderer(_WireRenderer):
    """JSON as ServiceStack writes it: camelCase, nulls left out; or as the request's
    `?jsconfig=` asks (ServiceStack reads it from the query string only, for JSON and JSONP)."""

    media_type = "application/json"
    format = "json"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        request = (renderer_context or {}).get("request")
        jsconfig = request.query_params.get("jsconfig") if request is not None else None
        if jsconfig and isinstance(data, WireData):
            body = render_json_with(data.contract, data.values, parse_jsconfig(jsconfig))
        else:
            body = super().render(data, accepted_media_type, renderer_context)
        callback = request.query_params.get("callback") if request is not None else None
        if callback and valid_callback(callback):
            renderer_context["response"]["Content-Type"] = "application/javascript; charset=utf-8"
            return render_jsonp(callback, body)
        if self.format == "jsonp" and renderer_context:  # no callback: plain JSON, said so
            renderer_context["response"]["Content-Type"] = "application/json; charset=utf-8"
        return body

    def encode(self, data: WireData) -> bytes:
        return render_json(data.contract, data.values)


class JSONPRenderer(ServiceStackJSONRenderer):
    """`?format=jsonp` or `Accept: application/javascript`; the callback comes from `?callback`."""

    media_type = "application/javascript"
    format = "jsonp"


class ServiceStackXMLRenderer(_WireRenderer):
    """XML in the DataContract shape of the spec's samples."""

    media_type = "application/xml"
    format = "xml"

    def encode(self, data: WireData) -> bytes:
        return render_xml(data.contract, data.values)


class ServiceStackCSVRenderer(_WireRenderer):
    """CSV: a header row of member names, one row per record."""

    media_type = "text/csv"
    format = "csv"

    def encode(self, data: WireData) -> bytes:
        return render_csv(data.contract, data.values)


class ServiceStackJSVRenderer(_WireRenderer):
    """JSV, ServiceStack's own text format: `{Name:Value,...}`."""

    media_type = "text/jsv"
    format = "jsv"

    def encode(self, data: WireData) -> bytes:
        return render_jsv(data.contract, data.values)
