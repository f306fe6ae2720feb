"""Reading `ListSessions`, Evo Voice's `ListRequest<SessionInfo>`: its filters, paging and sort
order, checked, as the arguments of `selectors.session_page_for`. Every bad field is reported,
by name, in one 400, as `requests.read_request` reports them."""

from sessions_app.dates import parse_wire_date
from sessions_app.errors import FieldError, ValidationFailed
from sessions_app.selectors import SessionFilters
from sessions_app.wire.contracts import SESSION_INFO
from sessions_app.wire.enums import SortOrders

DEFAULT_COUNT_PER_PAGE = 25
# A page of SessionInfo (members and log included) past this is megabytes: page instead.
MAX_COUNT_PER_PAGE = 1000
# `All` answers every match in one page, but no more than this many.
MAX_ALL = 1000

# The SessionInfo members a list may be sorted by (`SortField`), each by the column its value
# comes from (the contract's record key: a column of the session or of a joined row).
SORTABLE = (
    "Id",
    "DateCreated",
    "DateLastModified",
    "DateCompleted",
    "AccountId",
    "AccountName",
    "CustomerId",
    "CustomerName",
    "EndpointId",
    "EndpointName",
    "CallState",
    "Channel",
    "Direction",
    "Ended",
    "FromAddress",
    "FromName",
    "ToAddress",
    "Destination",
    "DisplayName",
)
_SORT_COLUMNS = {f.name.lower(): f.source for f in SESSION_INFO.all_fields if f.name in SORTABLE}


def list_sessions_arguments(values: dict) -> dict:
    """The keyword arguments of `selectors.session_page_for` (but the user) for a
    `ListSessions` request's values, or ValidationFailed naming every bad field."""
    errors: list[FieldError] = []
    dates = {}
    for name in ("StartDate", "EndDate"):
        try:
            dates[name] = parse_wire_date(values.get(name), field=name)
        except ValidationFailed as failure:
            errors.extend(failure.field_errors)
    page = values.get("Page") or 0
    if page < 0:
        errors.append(
            FieldError("Page", "GreaterThanOrEqual", "'Page' must be greater than or equal to 0.")
        )
    # 0 is unset: it is what a typed client sends for an int it was not given.
    count_per_page = values.get("CountPerPage") or DEFAULT_COUNT_PER_PAGE
    if not 1 <= count_per_page <= MAX_COUNT_PER_PAGE:
        errors.append(
            FieldError(
                "CountPerPage",
                "InclusiveBetween",
                f"'CountPerPage' must be between 1 and {MAX_COUNT_PER_PAGE}. "
                f"You entered {count_per_page}.",
            )
        )
    sort_field = (values.get("SortField") or "").strip() or "DateCreated"
    column = _SORT_COLUMNS.get(sort_field.lower())
    if column is None:
        errors.append(
            FieldError(
                "SortField",
                "InvalidSortField",
                f"'{sort_field[:100]}' is not a field the list can be sorted by. "
                f"Valid fields: {', '.join(SORTABLE)}.",
            )
        )
    if errors:
        failure = ValidationFailed(errors[0].message, field_errors=tuple(errors))
        failure.code = errors[0].code
        raise failure
    descending = (values.get("SortOrder") or SortOrders.DESCEND) == SortOrders.DESCEND
    sign = "-" if descending else ""
    # The id breaks ties in the same direction, so that pages never overlap nor skip a session.
    order_by = (f"{sign}id",) if column == "id" else (f"{sign}{column}", f"{sign}id")
    return {
        "filters": SessionFilters(
            account_ids=values.get("AccountIds") or (),
            customer_ids=values.get("CustomerIds") or (),
            endpoint_ids=values.get("EndpointIds") or (),
            specific_ids=values.get("SpecificIds") or (),
            start_date=dates["StartDate"],
            end_date=dates["EndDate"],
            from_address=values.get("From") or "",
            to_address=values.get("To") or "",
            log=values.get("Log") or "",
            parent_session_id=values.get("ParentSessionId") or "",
        ),
        "order_by": order_by,
        "page": page,
        "count_per_page": count_per_page,
        "simplified_paging": bool(values.get("SimplifiedPaging")),
        "every_match": bool(values.get("All")),
        "max_every_match": MAX_ALL,
    }
