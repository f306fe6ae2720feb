"""CSV as ServiceStack writes it: a header row of member names and one row per record.

A DTO whose only member is a list (`AppGetActiveSessionsResult`) is written as that list, one
row per item; any other DTO is one row. Nested values (lists, dictionaries, objects) go into
their cell in ServiceStack's JSV notation (`[{Id:1,Name:Acme}]`).
"""

import csv
import io

from .contracts import LIST, OBJECT, STRING_MAP, Contract
from .jsvfmt import jsv_value


def _cell(f, value) -> str:
    if value is None:
        return ""
    if f.kind in (LIST, STRING_MAP, OBJECT):
        return jsv_value(value, f.item)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_csv(contract: Contract, values: dict) -> bytes:
    """A contract's values as ServiceStack CSV."""
    fields = contract.all_fields
    if len(fields) == 1 and fields[0].kind == LIST and fields[0].item is not None:
        contract, rows = fields[0].item, values.get(fields[0].name) or []
    else:
        rows = [values]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f.name for f in contract.all_fields])
    for row in rows:
        writer.writerow([_cell(f, row.get(f.name)) for f in contract.all_fields])
    return buffer.getvalue().encode("utf-8")
