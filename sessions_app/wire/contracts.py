"""The data contracts of the Evo Voice sessions API: one place that knows every DTO's fields.

Fields are listed in declaration order, which is the order of the JSON and CSV forms. The XML
(DataContract) form puts base-class members first and then each class's members in ordinal
(case-sensitive) alphabetical order, each class in its own namespace; `xml_order` derives that.
"""

import base64
import hashlib
import re
from dataclasses import dataclass, field

from .enums import (
    FlowChannels,
    SessionCallState,
    SessionDialState,
    SessionDirections,
    SessionHoldReasons,
    SessionMemberCallState,
    SessionMemberRoles,
    SessionQueueStates,
    SortOrders,
    WireEnum,
)

NS_API = "http://schemas.datacontract.org/2004/07/Voice.Api"
NS_SESSIONS = "http://schemas.datacontract.org/2004/07/Voice.Api.Sessions"
NS_CUSTOMERS = "http://schemas.datacontract.org/2004/07/Voice.Api.Customers"
NS_PORTAL = "http://schemas.datacontract.org/2004/07/Voice.Api.App.Portal"
NS_ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
NS_SERVICESTACK = "http://schemas.servicestack.net/types"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

# Value kinds. STRING, BOOL and ENUM are scalars; LIST holds `item` contracts (or strings when
# `item` is None); STRING_MAP is a Dictionary<string, string>; OBJECT is one `item` contract.
STRING, BOOL, ENUM, LIST, STRING_MAP, OBJECT = "string", "bool", "enum", "list", "map", "object"
# INT: a number (JSON number, XML and CSV text). DATE: a DateTime, whose value is already the
# wire's text (`dto.wire_date`), so every renderer treats it as a string; the kind says it is a
# date for what formats dates differently (`?jsconfig=DateHandler:...`, the OpenAPI format).
INT, DATE = "int", "date"


_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass(frozen=True)
class Field:
    """One DataMember. `enum` is the enum type of an ENUM field; `source` is the key of the
    field's value in a record (`selectors.session_records`), by default the snake_case name."""

    name: str
    kind: str = STRING
    item: "Contract | None" = None
    enum: type[WireEnum] | None = None
    source: str = ""
    # ServiceStack's camelCase: only the first letter is lowered (`CallSid` -> `callSid`).
    json_name: str = field(init=False)

    def __post_init__(self):
        if (self.kind == ENUM) != (self.enum is not None):
            raise ValueError(f"{self.name}: an ENUM field, and only one, names its enum")
        object.__setattr__(self, "json_name", self.name[:1].lower() + self.name[1:])
        if not self.source:
            object.__setattr__(self, "source", _WORD_START.sub("_", self.name).lower())


@dataclass(frozen=True)
class Contract:
    """One DTO: its name, XML namespace, fields in declaration order and base contract."""

    name: str
    namespace: str
    fields: tuple[Field, ...]
    base: "Contract | None" = None
    # DataContract classes sort their members; ServiceStack's own DTOs fix an order instead.
    xml_sorted: bool = True
    # Per-class, in declaration order (own fields first, then base: the JSON samples' order).
    all_fields: tuple[Field, ...] = field(init=False)

    # (name, json_name, kind, item) per field in declaration order: the JSON renderer's loop.
    json_plan: tuple[tuple[str, str, str, "Contract | None"], ...] = field(init=False)
    # (name, source, kind, item) per field: the record-to-wire mapping's loop (`dto.to_wire`).
    source_plan: tuple[tuple[str, str, str, "Contract | None"], ...] = field(init=False)

    def __post_init__(self):
        inherited = self.base.all_fields if self.base else ()
        object.__setattr__(self, "all_fields", self.fields + inherited)
        plan = tuple((f.name, f.json_name, f.kind, f.item) for f in self.all_fields)
        object.__setattr__(self, "json_plan", plan)
        sources = tuple((f.name, f.source, f.kind, f.item) for f in self.all_fields)
        object.__setattr__(self, "source_plan", sources)

    def xml_order(self) -> list[tuple["Contract", Field]]:
        """(declaring contract, field) pairs in DataContract order: base first, each sorted."""
        pairs = self.base.xml_order() if self.base else []
        own = sorted(self.fields, key=lambda f: f.name) if self.xml_sorted else self.fields
        return pairs + [(self, f) for f in own]


def datacontract_generic_name(name: str, *arguments: Contract) -> str:
    """The name DataContractSerializer gives a generic type without an explicit name:
    `ListResponse<SessionInfo>` is `ListResponseOfSessionInfo` plus a digest of its arguments'
    namespaces, unless they are all XML Schema's or the Serialization namespace. The digest is
    .NET's `DataContract.GetNamespacesDigest`: the first 6 bytes of the MD5 of " 1 ns1 ns2..."
    (parameter count, then each argument's namespace) in base64, without `=`, with `/` as `_S`
    and `+` as `_P`. (It gives WCF's well-known `ArrayOfKeyValueOfstringArrayOfstringty7Ep6D1`
    for `Dictionary<string, string[]>`: see tests/test_wire_xml.py.)"""
    digest_input = f" {len(arguments)}" + "".join(f" {a.namespace}" for a in arguments)
    digest = hashlib.md5(digest_input.encode(), usedforsecurity=False).digest()[:6]
    text = base64.b64encode(digest).decode().rstrip("=").replace("/", "_S").replace("+", "_P")
    return name + "Of" + "".join(a.name for a in arguments) + text


ENTITY_INFO = Contract(
    "EntityInfo",
    NS_API,
    (
        Field("Id"),
        Field("DateCreated", DATE),
        Field("DateLastModified", DATE),
        Field("CreatedBy"),
        Field("LastModifiedBy"),
    ),
)

CUSTOMER_BREADCRUMB = Contract("CustomerBreadcrumb", NS_CUSTOMERS, (Field("Id"), Field("Name")))

SESSION_LOG_INFO = Contract("SessionLogInfo", NS_SESSIONS, (Field("Date", DATE), Field("Message")))

SESSION_MEMBER_INFO = Contract(
    "SessionMemberInfo",
    NS_SESSIONS,
    (
        Field("Identity"),
        Field("EndpointId"),
        Field("DisplayName"),
        Field("IsOriginalMember", BOOL),
        Field("AvatarUrl"),
        Field("ApplicationData", STRING_MAP),
        Field("CallState", ENUM, enum=SessionMemberCallState),
        Field("Role", ENUM, enum=SessionMemberRoles),
        Field("CallSid"),
        Field("Muted", BOOL),
    ),
)

SESSION_INFO = Contract(
    "SessionInfo",
    NS_SESSIONS,
    (
        Field("DialState", ENUM, enum=SessionDialState),
        Field("CallState", ENUM, enum=SessionCallState),
        Field("QueueState", ENUM, enum=SessionQueueStates),
        Field("AccountId"),
        Field("AccountName", source="account__name"),
        Field("CustomerId"),
        Field("CustomerBreadcrumb", LIST, CUSTOMER_BREADCRUMB, source="breadcrumb"),
        Field("CustomerName", source="customer__name"),
        Field("EndpointId"),
        Field("EndpointName", source="endpoint__name"),
        Field("DateCompleted", DATE),
        Field("Destination"),
        Field("ToAddress"),
        Field("FromAddress"),
        Field("FromName"),
        Field("AnsweredByName"),
        Field("QueueMemberId"),
        Field("Channel", ENUM, enum=FlowChannels),
        Field("Ended", BOOL),
        Field("Outcome"),
        Field("CallSid"),
        Field("ConsoleData"),
        Field("HoldQueueName"),
        Field("HeldByUserId"),
        Field("HoldReason", ENUM, enum=SessionHoldReasons),
        Field("ConferenceSid"),
        Field("DisplayName"),
        Field("Log", LIST, SESSION_LOG_INFO),
        Field("Members", LIST, SESSION_MEMBER_INFO),
        Field("CallbackNumber"),
        Field("AnsweredById"),
        Field("Direction", ENUM, enum=SessionDirections),
        Field("FromPhoneNumber"),
        Field("MostRecentParticipantCallSid"),
        Field("WasMissed", BOOL),
        Field("RingQueueId"),
    ),
    base=ENTITY_INFO,
)

APP_GET_ACTIVE_SESSIONS_RESULT = Contract(
    "AppGetActiveSessionsResult", NS_PORTAL, (Field("Sessions", LIST, SESSION_INFO),)
)

# Evo Voice's `ListResponse<SessionInfo>` (Voice.Api): one page of a `ListRequest<SessionInfo>`.
# Its XML root is DataContract's name for the generic, digest included (see
# `datacontract_generic_name`): `ListResponseOfSessionInfoBWxtuWQa`.
LIST_RESPONSE_OF_SESSION_INFO = Contract(
    datacontract_generic_name("ListResponse", SESSION_INFO),
    NS_API,
    (
        Field("Items", LIST, SESSION_INFO),
        Field("TotalCount", INT),
        Field("TotalPages", INT),
        Field("HasMorePages", BOOL),
    ),
)

# ServiceStack's own error DTOs (ServiceStack.Interfaces, DataMember Order as declared there).
RESPONSE_ERROR = Contract(
    "ResponseError",
    NS_SERVICESTACK,
    (Field("ErrorCode"), Field("FieldName"), Field("Message")),
    xml_sorted=False,
)
RESPONSE_STATUS = Contract(
    "ResponseStatus",
    NS_SERVICESTACK,
    (
        Field("ErrorCode"),
        Field("Message"),
        Field("StackTrace"),
        Field("Errors", LIST, RESPONSE_ERROR),
        # Facts about the error, e.g. `AutoBatchIndex`: which request of a batch failed.
        Field("Meta", STRING_MAP),
    ),
    xml_sorted=False,
)
ERROR_RESPONSE = Contract(
    "ErrorResponse", NS_SERVICESTACK, (Field("ResponseStatus", OBJECT, RESPONSE_STATUS),)
)

# The authentication response (ServiceStack `AuthenticateResponse`), plus the accounts we add.
AUTHENTICATE_RESPONSE = Contract(
    "AuthenticateResponse",
    NS_SERVICESTACK,
    (
        Field("UserId"),
        Field("SessionId"),
        Field("UserName"),
        Field("DisplayName"),
        Field("Roles", LIST),
        Field("Permissions", LIST),
        Field("AccountIds", LIST),
        Field("AccountNames", LIST),
    ),
    xml_sorted=False,
)

# Request DTOs: name, namespace and fields (PascalCase), used to read bodies and query strings.
HOLD_SESSION = Contract(
    "HoldSession",
    NS_SESSIONS,
    (Field("SessionId"), Field("CallSid"), Field("Reason", ENUM, enum=SessionHoldReasons)),
)
PATCH_SESSION = Contract(
    "PatchSession",
    NS_SESSIONS,
    (
        Field("SessionId"),
        Field("ConsoleData"),
        Field("CallState", ENUM, enum=SessionCallState),
        Field("HoldReason", ENUM, enum=SessionHoldReasons),
        Field("QueueState", ENUM, enum=SessionQueueStates),
    ),
)
ADD_CONFERENCE_MEMBER = Contract(
    "AddConferenceMember",
    NS_SESSIONS,
    (Field("SessionId"), Field("CallSid"), Field("Destination"), Field("FromNumber")),
)
APP_GET_ACTIVE_SESSIONS = Contract(
    "AppGetActiveSessions",
    NS_PORTAL,
    (Field("AccountId"), Field("CustomerId"), Field("StartDate")),
)
GET_SESSION = Contract("GetSession", NS_SESSIONS, (Field("SessionId"),))
# Evo Voice's `ListRequest<T>` (Voice.Api): the paging and sorting every list request has.
LIST_REQUEST = Contract(
    "ListRequest",
    NS_API,
    (
        Field("Page", INT),
        Field("CountPerPage", INT),
        Field("SortField"),
        Field("SortOrder", ENUM, enum=SortOrders),
        Field("SimplifiedPaging", BOOL),
        Field("SpecificIds", LIST),
        Field("All", BOOL),
    ),
)
LIST_SESSIONS = Contract(
    "ListSessions",
    NS_SESSIONS,
    (
        Field("AccountIds", LIST),
        Field("CustomerIds", LIST),
        Field("EndpointIds", LIST),
        Field("StartDate"),
        Field("EndDate"),
        Field("From"),
        Field("To"),
        Field("Log"),
        Field("ParentSessionId"),
    ),
    base=LIST_REQUEST,
)
END_SESSION = Contract("EndSession", NS_SESSIONS, (Field("SessionId"), Field("CallSid")))
AUTHENTICATE = Contract(
    "Authenticate",
    NS_SERVICESTACK,
    (Field("provider"), Field("UserName"), Field("Password"), Field("RememberMe", BOOL)),
)
