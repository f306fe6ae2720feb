"""Session records (`selectors.session_records`) as the values of the Evo Voice contracts,
keyed by DataMember name. Pure functions over plain data: rendering costs no queries."""

from datetime import UTC, datetime

from .contracts import LIST, SESSION_INFO, STRING_MAP, Contract


def wire_date(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds: `2026-11-21T21:54:26.123Z`."""
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def to_wire(contract: Contract, record: dict) -> dict:
    """A record as the values of `contract`, keyed by DataMember name: each field's value is
    `record[field.source]`, nested records become nested contracts, dates become wire dates.
    The mapping is the contract's own field list: nothing here names a field."""
    values = {}
    for name, source, kind, item in contract.source_plan:
        value = record[source]
        if value is None:
            pass
        elif item is not None:
            if kind == LIST:
                value = [to_wire(item, element) for element in value]
            else:
                value = to_wire(item, value)
        elif kind == STRING_MAP:
            value = dict(value)
        elif isinstance(value, datetime):
            value = wire_date(value)
        values[name] = value
    return values


def session_info(record: dict) -> dict:
    """A session record (`selectors.session_records`) as `SessionInfo` values."""
    return to_wire(SESSION_INFO, record)


def active_sessions_result(session_infos) -> dict:
    """`AppGetActiveSessionsResult` values of sessions' `SessionInfo` values (each a dict keyed
    by DataMember name, or already encoded in JSON: `jsonfmt.Encoded`)."""
    return {"Sessions": list(session_infos)}


def list_response(
    records: list[dict], *, total_count: int, total_pages: int, has_more_pages: bool
) -> dict:
    """`ListResponse<SessionInfo>` values: one page of session records and the paging facts
    (`total_count` and `total_pages` are 0 when they were not counted: `SimplifiedPaging`)."""
    return {
        "Items": [session_info(record) for record in records],
        "TotalCount": total_count,
        "TotalPages": total_pages,
        "HasMorePages": has_more_pages,
    }


def error_response(
    *, error_code: str, message: str, errors=(), stack_trace=None, meta: dict | None = None
) -> dict:
    """`ErrorResponse` values: the error code, message, field errors and meta."""
    status = {"ErrorCode": error_code, "Message": message, "StackTrace": stack_trace}
    status["Errors"] = [
        {"ErrorCode": e.code, "FieldName": e.field, "Message": e.message} for e in errors
    ]
    status["Meta"] = meta
    return {"ResponseStatus": status}
