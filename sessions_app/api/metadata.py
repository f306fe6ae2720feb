"""ServiceStack's metadata pages, from the operations registry: `/metadata` lists the operations,
`/{format}/metadata?op=X` documents one for one format (its routes, required role, every type it
uses with each field's location, type and description, its enums, and a sample request and
response rendered by the same renderers that answer real requests). Public, as ServiceStack's
are: they say nothing a generated client does not."""

from defusedxml.minidom import parseString
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from sessions_app.wire.contracts import Contract
from sessions_app.wire.csvfmt import render_csv
from sessions_app.wire.jsonfmt import render_json
from sessions_app.wire.jsvfmt import render_jsv
from sessions_app.wire.typeinfo import class_name, referenced_types, sample_values, type_name
from sessions_app.wire.xmlfmt import render_xml

from .operations import OPERATIONS, Operation, Route, operation_named

FORMATS = {
    "json": ("application/json", render_json),
    "xml": ("application/xml", render_xml),
    "csv": ("text/csv", render_csv),
    "jsv": ("text/jsv", render_jsv),
}
# The verbs that send the request DTO as a body (the others send it in the query string).
_BODY_VERBS = {"POST", "PUT", "PATCH"}


def _type_table(operation: Operation, kind, route: Route, verb: str) -> dict:
    """One type of the page: a contract's rows (name, location, type, required, description),
    where the request's own members travel by route and verb and every other type's are
    `form`, or an enum's names."""
    if not isinstance(kind, Contract):
        return {"name": kind.__name__, "enum": kind.values()}
    rows = [
        (
            f.name,
            operation.location(f, route, verb) if kind is operation.request else "form",
            type_name(f),
            "No",
            f.description,
        )
        for f in kind.fields
    ]
    return {"name": class_name(kind), "rows": rows}


def _xml_sample(body: bytes) -> str:
    """The XML as ServiceStack's pages show it: one element per line, indented."""
    pretty = parseString(body).toprettyxml(indent="  ")
    return pretty.split("\n", 1)[1].strip()


def _sample(fmt: str, contract: Contract) -> str:
    body = FORMATS[fmt][1](contract, sample_values(contract))
    return _xml_sample(body) if fmt == "xml" else body.decode()


def _http_samples(fmt: str, operation: Operation, route: Route, verb: str, host: str):
    """(request, response) as the text of an HTTP exchange, placeholders for the values."""
    content_type = FORMATS[fmt][0]
    request = [f"{verb} {route.path} HTTP/1.1", f"Host: {host}", f"Accept: {content_type}"]
    if verb in _BODY_VERBS:
        request += [f"Content-Type: {content_type}", "Content-Length: length", ""]
        request.append(_sample(fmt, operation.request))
    response = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", "Content-Length: length", ""]
    response.append(_sample(fmt, operation.response))
    return "\n".join(request), "\n".join(response)


@require_safe
def metadata_index(request: HttpRequest) -> HttpResponse:
    """`/metadata`: every operation, with a link to its page in each format."""
    operations = sorted(OPERATIONS.values(), key=lambda op: op.name)
    return render(
        request, "metadata/index.html", {"operations": operations, "formats": list(FORMATS)}
    )


@require_safe
def operation_metadata(request: HttpRequest, format: str) -> HttpResponse:
    """`/{format}/metadata?op=X`: one operation, for one format."""
    name = request.GET.get("op")
    if not name:
        return redirect("metadata")
    operation = operation_named(name)
    if operation is None:
        raise Http404(f"No operation '{name}'")
    route = operation.routes[0]
    verb = operation.verb
    kinds = referenced_types(operation.request, operation.response)
    sample_request, sample_response = _http_samples(
        format, operation, route, verb, request.get_host()
    )
    context = {
        "operation": operation,
        "format": format,
        "formats": list(FORMATS),
        "types": [_type_table(operation, kind, route, verb) for kind in kinds],
        "sample_request": sample_request,
        "sample_response": sample_response,
    }
    return render(request, "metadata/operation.html", context)
