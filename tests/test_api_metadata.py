"""The metadata pages (`/metadata`, `/{format}/metadata?op=X`) against Evo Voice's own, kept in
tests/fixtures/spec/: the same rows in the same order (required role, routes, each type's field
table, each enum), and samples our own parsers and the spec's samples agree on."""

import csv
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest
from defusedxml.ElementTree import fromstring

from sessions_app.api.operations import OPERATIONS

SPEC = Path(__file__).parent / "fixtures" / "spec"
PAGES = [
    ("hold-session.txt", "xml", "HoldSession"),
    ("patch-session.txt", "json", "PatchSession"),
    ("invite-conference-member.txt", "csv", "AddConferenceMember"),
    ("get-active-sessions.txt", "xml", "AppGetActiveSessions"),
]


class _Page(HTMLParser):
    """The page's table rows (each a list of its non-empty cell texts) and `<pre>` blocks."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self.pres: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._pre: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "pre":
            self._pre = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if text:
                self._row.append(text)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None
        elif tag == "pre":
            self.pres.append("".join(self._pre))
            self._pre = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._pre is not None:
            self._pre.append(data)


def page(client, fmt: str, operation: str) -> _Page:
    response = client.get(f"/{fmt}/metadata", {"op": operation})
    assert response.status_code == 200
    parsed = _Page()
    parsed.feed(response.content.decode())
    return parsed


def spec_rows(name: str) -> list[list[str]]:
    """The spec page's table rows, as the page's text shows them (markdown-ish `|` tables),
    up to its samples."""
    rows = []
    for line in (SPEC / name).read_text().splitlines():
        if line.startswith("To override the Content-type"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        cells = [cell for cell in cells if cell]
        if cells and not all(re.fullmatch(r"-+", cell) for cell in cells):
            rows.append(cells)
    return rows


@pytest.mark.parametrize(("spec", "fmt", "operation"), PAGES)
def test_every_row_of_the_spec_page_is_on_ours_in_the_same_order(client, db, spec, fmt, operation):
    ours, theirs = page(client, fmt, operation).rows, spec_rows(spec)
    # Three of the four copies start at the route table; HoldSession's has the role row too.
    assert ours[-len(theirs) :] == theirs
    assert ours[: len(ours) - len(theirs)] in ([], [["Required role:", "User"]])
    assert ours[0] == ["Required role:", "User"]


def _sample_body(pre: str) -> str:
    head, _, body = pre.partition("\n\n")
    return body


def test_the_xml_samples_are_the_specs_and_our_parser_reads_the_request_back(client, db):
    hold = page(client, "xml", "HoldSession")
    request, response = (_sample_body(pre) for pre in hold.pres)
    root = fromstring(request)
    assert root.tag.endswith("}HoldSession")
    assert {child.tag.rsplit("}")[1]: child.text for child in root} == {
        "CallSid": "String",
        "Reason": "None",
        "SessionId": "String",
    }
    # The response sample is the spec's SessionInfo sample, element for element.
    expected = (SPEC / "session-info.xml").read_text()
    assert _elements(response) == _elements(expected)
    assert hold.pres[0].startswith("POST /sessions/{sessionId}/hold HTTP/1.1\nHost: testserver\n")


def _elements(xml: str) -> list[str]:
    return [line.strip() for line in xml.strip().splitlines() if line.strip()]


def test_the_json_samples_are_the_specs_byte_for_byte(client, db):
    patch = page(client, "json", "PatchSession")
    request, response = (_sample_body(pre) for pre in patch.pres)
    assert request == (SPEC / "patch-session-request.json").read_text().strip()
    assert orjson.loads(response) == orjson.loads((SPEC / "session-info.json").read_text())
    assert response == (SPEC / "session-info.json").read_text().strip()


def test_the_csv_samples_are_our_csv_and_read_back(client, db):
    """Evo Voice's CSV page shows JSON; ours shows the CSV this server really sends and reads."""
    invite = page(client, "csv", "AddConferenceMember")
    request, response = (_sample_body(pre) for pre in invite.pres)
    header, row = list(csv.reader(io.StringIO(request)))
    assert header == ["SessionId", "CallSid", "Destination", "FromNumber"]
    assert row == ["String"] * 4
    assert next(csv.reader(io.StringIO(response)))[:3] == ["DialState", "CallState", "QueueState"]


def test_a_get_sample_has_no_body(client, db):
    active = page(client, "xml", "AppGetActiveSessions")
    assert active.pres[0] == (
        "GET /portal/active-sessions HTTP/1.1\nHost: testserver\nAccept: application/xml"
    )


def test_the_index_lists_every_operation_with_a_page_per_format(client, db):
    response = client.get("/metadata")
    body = response.content.decode()
    assert response.status_code == 200
    for name in OPERATIONS:
        for fmt in ("json", "xml", "csv", "jsv"):
            assert f'href="/{fmt}/metadata?op={name}"' in body
    assert "/types" in body


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_operation_has_a_page_in_every_format(client, db, name):
    for fmt in ("json", "xml", "csv", "jsv"):
        parsed = page(client, fmt, name)
        assert parsed.rows[0] != []
        assert len(parsed.pres) == 2


def test_an_unknown_operation_is_a_404_and_none_lists_them_all(client, db):
    assert client.get("/json/metadata", {"op": "Nope"}).status_code == 404
    response = client.get("/json/metadata")
    assert response.status_code == 302 and response["Location"] == "/metadata"


def test_the_pages_need_no_sign_in_and_accept_only_safe_methods(client, db):
    assert client.get("/metadata").status_code == 200
    assert client.head("/xml/metadata", {"op": "HoldSession"}).status_code == 200
    assert client.post("/metadata").status_code == 405


def test_the_old_reference_page_moved_to_the_metadata_pages(client, db):
    response = client.get("/docs/api")
    assert response.status_code == 301 and response["Location"] == "/metadata"
