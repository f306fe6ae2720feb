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
    SessionMonitorModes,
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
    field's value in a record (`selectors.session_records`), by default the snake_case name;
    `description` is Evo Voice's own `[ApiMember(Description=...)]`, word for word."""

    name: str
    kind: str = STRING
    item: "Contract | None" = None
    enum: type[WireEnum] | None = None
    source: str = ""
    # What the metadata pages, OpenAPI and generated client types say about the field.
    description: str = ""
    # A nullable value type (`SessionCallState?`): an enum a request may leave out.
    nullable: bool = False
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
    # A closed generic (`ListResponse<SessionInfo>`): the generic type's name and its type
    # arguments. Its `name` is still the XML one; typed clients declare `ListResponse<T>`.
    generic: "tuple[str, tuple[Contract, ...]] | None" = None
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
        Field("Id", description="The ID of the object"),
        Field("DateCreated", DATE, description="The date the object was created"),
        Field("DateLastModified", DATE, description="The date the object was last modified"),
        Field("CreatedBy", description="The user that created this object"),
        Field("LastModifiedBy", description="The user that last modified this object"),
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
        Field("DialState", ENUM, enum=SessionDialState, description="The state of the session"),
        Field(
            "CallState", ENUM, enum=SessionCallState, description="The call state of the session"
        ),
        Field(
            "QueueState",
            ENUM,
            enum=SessionQueueStates,
            description="The queue state of the session",
        ),
        Field("AccountId", description="The ID of the account associated with the flow"),
        Field(
            "AccountName",
            source="account__name",
            description="The name of the account associated with the session",
        ),
        Field("CustomerId", description="The ID of the customer this session is associated with"),
        Field(
            "CustomerBreadcrumb",
            LIST,
            CUSTOMER_BREADCRUMB,
            source="breadcrumb",
            description="The customer breadcrumb this session is associated with",
        ),
        Field(
            "CustomerName",
            source="customer__name",
            description="The name of the customer this session is associated with",
        ),
        Field("EndpointId", description="The ID of the endpoint associated with this session"),
        Field(
            "EndpointName",
            source="endpoint__name",
            description="The name of the endpoint associated with this session",
        ),
        Field("DateCompleted", DATE, description="The date the call completed"),
        Field(
            "Destination",
            description="The destination of the session (e.g. what was entered into the Dial box)",
        ),
        Field("ToAddress", description="The to address if any"),
        Field("FromAddress", description="The from address if any"),
        Field("FromName", description="The from name if any"),
        Field("AnsweredByName", description="Answered by name (if any)"),
        Field("QueueMemberId", description="The ID of the queue member assigned to this call"),
        Field("Channel", ENUM, enum=FlowChannels, description="The flow channel"),
        Field("Ended", BOOL, description="Has the session ended"),
        Field("Outcome", description="The outcome of the call"),
        Field("CallSid", description="The twilio Call SID of this session"),
        Field("ConsoleData", description="Any console data for this session"),
        Field("HoldQueueName", description="The name of the hold queue for this call"),
        Field("HeldByUserId", description="The user ID who put this call on hold"),
        Field("HoldReason", ENUM, enum=SessionHoldReasons, description="The reason for the hold"),
        Field("ConferenceSid", description="The SID of the conference if in a conference call"),
        Field("DisplayName", description="The display name for this session"),
        Field("Log", LIST, SESSION_LOG_INFO, description="The log entries for this session"),
        Field("Members", LIST, SESSION_MEMBER_INFO, description="The members of this session"),
        Field(
            "CallbackNumber",
            description="The callback number (typically used for SIP to User calls)",
        ),
        Field("AnsweredById", description="The ID of the endpoint that answered"),
        Field(
            "Direction",
            ENUM,
            enum=SessionDirections,
            description="Is this session incoming or outgoing?",
        ),
        Field(
            "FromPhoneNumber",
            description="The phone number that this session is coming from (used with SMS chats)",
        ),
        Field(
            "MostRecentParticipantCallSid",
            description="The Call SID of the most recently added conference participant",
        ),
        Field("WasMissed", BOOL, description="Was this session missed?"),
        Field("RingQueueId", description="The ring queue that the call is currently in"),
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
    generic=("ListResponse", (SESSION_INFO,)),
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
    (
        Field("CallSid", description="The local call SID"),
        Field("SessionId", description="The ID of the session to hold"),
        Field(
            "Reason",
            ENUM,
            enum=SessionHoldReasons,
            description="The reason you are holding this call",
        ),
    ),
)
PATCH_SESSION = Contract(
    "PatchSession",
    NS_SESSIONS,
    (
        Field("SessionId"),
        Field("ConsoleData"),
        Field("CallState", ENUM, enum=SessionCallState, nullable=True),
        Field("HoldReason", ENUM, enum=SessionHoldReasons, nullable=True),
        Field("QueueState", ENUM, enum=SessionQueueStates, nullable=True),
    ),
)
ADD_CONFERENCE_MEMBER = Contract(
    "AddConferenceMember",
    NS_SESSIONS,
    (
        Field("SessionId", description="The ID of the active session"),
        Field("CallSid", description="The sid of the active call that is on the voice device"),
        Field("Destination", description="The party to invite to the conference"),
        Field("FromNumber", description="The FROM (caller ID) to use"),
    ),
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
REDIRECT_SESSION = Contract(
    "RedirectSession",
    NS_SESSIONS,
    (
        Field("SessionId", description="The ID of the session whose call to transfer"),
        Field(
            "Destination",
            description="Where to send the call: an E.164 number, a sip: URI or a client: identity",
        ),
        Field(
            "CallerId",
            description="The caller ID (E.164) to present; by default the session's own number",
        ),
    ),
)
# Evo Voice's DTO for this route is not public: the name is ours.
UPDATE_CONFERENCE_MEMBER = Contract(
    "UpdateConferenceMember",
    NS_SESSIONS,
    (
        Field("SessionId", description="The ID of the active session"),
        Field("CallSid", description="The call SID of the conference member"),
        Field(
            "Hold",
            BOOL,
            nullable=True,
            description="true to hold the member, false to take it off hold; omit to leave it",
        ),
        Field(
            "Muted",
            BOOL,
            nullable=True,
            description="true to mute the member, false to unmute it; omit to leave it",
        ),
    ),
)
REMOVE_CONFERENCE_MEMBER = Contract(
    "RemoveConferenceMember",
    NS_SESSIONS,
    (
        Field("SessionId", description="The ID of the active session"),
        Field("CallSid", description="The call SID of the conference member to remove"),
    ),
)
MONITOR_SESSION = Contract(
    "MonitorSession",
    NS_SESSIONS,
    (
        Field("SessionId", description="The ID of the session to monitor"),
        Field(
            "Mode",
            ENUM,
            enum=SessionMonitorModes,
            nullable=True,
            description="Listen (muted), Coach (only the agent hears you) or Barge (everyone "
            "hears you); while you monitor, another mode switches to it",
        ),
        Field(
            "Destination",
            description="Your phone or client to ring (an E.164 number, a sip: URI or a "
            "client: identity); by default the monitoring destination of your profile",
        ),
        Field("Leave", BOOL, description="true to stop monitoring: your call is hung up"),
    ),
)
AUTHENTICATE = Contract(
    "Authenticate",
    NS_SERVICESTACK,
    (Field("provider"), Field("UserName"), Field("Password"), Field("RememberMe", BOOL)),
)
