"""The Evo Voice enums, declared once under their ServiceStack type names.

Each member's value is its wire name, exactly as the spec lists it; the database stores the
same words, so models take their choices from here (`choices_of`) and the request reader, the
OpenAPI description and the contracts all name the same class. Plain Python: no Django.
"""

from enum import StrEnum


class WireEnum(StrEnum):
    """A ServiceStack enum: members are strings equal to their wire names."""

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]

    @classmethod
    def parse(cls, text: str) -> "WireEnum | None":
        """The member named `text`, ignoring case and surrounding blanks (as ServiceStack
        binds enums), or None."""
        wanted = text.strip().lower()
        return next((member for member in cls if member.value.lower() == wanted), None)


def choices_of(enum: type[WireEnum]) -> list[tuple[str, str]]:
    """Django model-field choices: the wire names, which are also their labels."""
    return [(member.value, member.value) for member in enum]


class SessionDialState(WireEnum):
    """Whether the session is dialing someone into its conference."""

    NONE = "None"
    ACTIVE = "Active"


class SessionCallState(WireEnum):
    """The state of the session's call (see `CALL_STATE_TRANSITIONS`)."""

    DISCONNECTED = "Disconnected"
    RINGING = "Ringing"
    CONNECTED = "Connected"
    HOLD = "Hold"
    PASSIVE = "Passive"


class SessionQueueStates(WireEnum):
    """The state of the session in a call queue."""

    NONE = "None"
    QUEUED = "Queued"
    RINGING = "Ringing"
    CONNECTED = "Connected"
    HOLD = "Hold"
    DISCONNECTED = "Disconnected"


class FlowChannels(WireEnum):
    """What the session carries."""

    VOICE = "Voice"
    CHAT = "Chat"
    FAX = "Fax"


class SessionHoldReasons(WireEnum):
    """Why a call is on hold."""

    NONE = "None"
    TRANSFERRING = "Transferring"


class SessionMemberCallState(WireEnum):
    """The state of one member's leg."""

    NONE = "None"
    RINGING = "Ringing"
    CONNECTED = "Connected"
    HOLD = "Hold"


class SessionMemberRoles(WireEnum):
    """What a member is to the session."""

    NONE = "None"
    CALLER = "Caller"
    AGENT = "Agent"
    TRANSFER = "Transfer"


class SessionDirections(WireEnum):
    """Whether the session came in or went out."""

    INCOMING = "Incoming"
    OUTGOING = "Outgoing"


class SortOrders(WireEnum):
    """The order of a `ListRequest`'s `SortField`."""

    ASCEND = "Ascend"
    DESCEND = "Descend"


class SessionMonitorModes(WireEnum):
    """How a supervisor monitors a session's call: `Listen` hears everyone and is heard by
    nobody, `Coach` is heard only by the agent (a whisper), `Barge` is a full participant."""

    LISTEN = "Listen"
    COACH = "Coach"
    BARGE = "Barge"
