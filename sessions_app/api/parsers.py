"""Request body parsers: JSON, XML (parsed safely), CSV, JSV and forms, each giving a dict.

Every parser reads at most `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes; a larger body is a 413.
Key case is left alone here: `requests.read_request` matches names case-insensitively.
"""

import csv
import io

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from sessions_app.wire.contracts import NS_XSI
from sessions_app.wire.jsvfmt import JSVError, parse_jsv

from .errors import PayloadTooLarge


def read_limited(stream) -> bytes:
    """The request body, refused with 413 past `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes."""
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge()
    return body


def parse_json_object(body: bytes) -> dict:
    """A JSON request body, which must be an object (a request DTO)."""
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"Malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise ParseError("The JSON body must be an object")
    return data


class JSONParser(BaseParser):
    """JSON request DTOs (`application/json`), size-limited."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return parse_json_object(read_limited(stream))


class UnlabelledJSONParser(BaseParser):
    """A JSON request DTO sent as `text/plain` or with no `Content-Type`, as ServiceStack's
    `JsonApiClient` sends it (a "simple" request, so a browser makes no CORS preflight), and as
    ServiceStack reads it. Any other plain text is not a request DTO: 415."""

    media_type = "text/plain"

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_limited(stream)
        if body.strip() and not body.lstrip().startswith(b"{"):
            raise UnsupportedMediaType(media_type or "text/plain")
        return parse_json_object(body)


class XMLParser(BaseParser):
    """A DataContract request: `<HoldSession xmlns=...><CallSid>…</CallSid>…</HoldSession>`;
    a member may be a list of strings (`<string>` items).

    defusedxml refuses DTDs, entity declarations and external references outright.
    """

    media_type = "application/xml"

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_limited(stream)
        if not body.strip():
            return {}
        try:
            root = fromstring(body, forbid_dtd=True)
        except DefusedXmlException:
            raise ParseError("XML with DTDs or entity declarations is not accepted") from None
        except Exception as error:  # ParseError of the stdlib, with the position
            raise ParseError(f"Malformed XML: {error}") from None
        data = {}
        for child in root:
            name = child.tag.rsplit("}", 1)[-1]
            if child.get(f"{{{NS_XSI}}}nil") == "true":
                data[name] = None
            elif len(child) and all(_is_string_item(item) for item in child):
                # A List<string> as DataContract writes it: `<AccountIds><d2p1:string>a
                # </d2p1:string>...</AccountIds>` (any prefix for the Arrays namespace).
                data[name] = [item.text or "" for item in child]
            elif len(child):
                raise ParseError(f"Element '{name}' must be a simple value")
            else:
                data[name] = child.text or ""
        return data


def _is_string_item(element) -> bool:
    return element.tag.rsplit("}", 1)[-1] == "string" and not len(element)


class CSVParser(BaseParser):
    """A header row and one record. A JSON object sent as text/csv (as the spec's sample for
    AddConferenceMember does) is read as JSON."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_limited(stream)
        if body.lstrip().startswith(b"{"):
            return parse_json_object(body)
        try:
            # utf-8-sig: a spreadsheet's byte-order mark must not become part of the first name.
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        except (UnicodeDecodeError, csv.Error) as error:
            raise ParseError(f"Malformed CSV: {error}") from None
        rows = [row for row in rows if row]
        if not rows:
            return {}
        if len(rows) != 2 or len(rows[0]) != len(rows[1]):
            raise ParseError("A CSV request is a header row and one record")
        return {name: value for name, value in zip(rows[0], rows[1], strict=True) if value != ""}


class JSVParser(BaseParser):
    """A JSV request DTO (`text/jsv`): `{SessionId:abc,Reason:Transferring}`."""

    media_type = "text/jsv"

    def parse(self, stream, media_type=None, parser_context=None):
        body = read_limited(stream)
        try:
            data = parse_jsv(body.decode("utf-8-sig")) if body.strip() else {}
        except (UnicodeDecodeError, JSVError) as error:
            raise ParseError(f"Malformed JSV: {error}") from None
        if not isinstance(data, dict):
            raise ParseError("The JSV body must be an object")
        return data
