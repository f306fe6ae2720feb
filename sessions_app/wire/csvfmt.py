"""CSV as ServiceStack writes it: a header row of member names and one row per record.

A DTO whose first member is a list of DTOs and whose other members are plain values (the
`Sessions` of `AppGetActiveSessionsResult`; the `Items` of `ListResponse<SessionInfo>`, followed by
its paging counts) is written as that list, one row per item, as ServiceStack's CSV writes the
list property of a response; any other DTO is one row. Nested values (lists, dictionaries,
objects) go into their cell in ServiceStack's JSV notation (`[{Id:1,Name:Acme}]`).
"""

import csv
import io

from .contracts import LIST, OBJECT, STRING_MAP, Contract
from .jsvfmt import jsv_value

_NESTED = (LIST, STRING_MAP, OBJECT)


def _cell(f, value) -> str:
    if value is None:
        return ""
    if f.kind in _NESTED:
        return jsv_value(value, f.item)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_csv(contract: Contract, values: dict) -> bytes:
    """A contract's values as ServiceStack CSV."""
    first, *others = contract.all_fields
    if first.kind == LIST and first.item is not None and not any(f.kind in _NESTED for f in others):
        contract, rows = first.item, values.get(first.name) or []
    else:
        rows = [values]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f.name for f in contract.all_fields])
    for row in rows:
        writer.writerow([_cell(f, row.get(f.name)) for f in contract.all_fields])
    return buffer.getvalue().encode("utf-8")
