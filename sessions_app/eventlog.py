"""Session events in words: the `Message` of the wire's `SessionLogInfo` and the portal's log.

Messages are rendered from an event's kind and data whenever they are read, never stored and
never parsed. An event may also carry secondary kinds (`data["also"]`: a PATCH that holds the
call and changes its console data is one `held` event that also changed the console data);
each adds its clause to the sentence.
"""

from collections.abc import Callable

from .models import EventKind, HoldReason, Via

_VIA_NAMES = {Via.API: "API", Via.PORTAL: "portal"}


def actor_suffix(actor_name: str, via: str) -> str:
    """' by alice via API' for a person, ' (via provider)' for the provider or the system
    (which act as nobody: their `actor_name` is empty)."""
    if actor_name:
        return f" by {describe_actor(actor_name, via)}"
    return f" (via {_VIA_NAMES.get(via, via)})"


def describe_actor(actor_name: str, via: str) -> str:
    """'alice via API', or 'the provider' / 'the system'."""
    if actor_name:
        return f"{actor_name} via {_VIA_NAMES.get(via, via)}"
    return f"the {via}"


def _change(data: dict, field: str) -> tuple:
    return tuple(data.get("changes", {}).get(field) or (None, None))


def _member(data: dict) -> str:
    return (data.get("member") or {}).get("name") or "A member"


def _held(data: dict) -> str:
    reason = data.get("reason")
    text = "" if not reason or reason == HoldReason.NONE else f" ({reason})"
    return f"{_member(data)} put on hold{text}"


def _member_left(data: dict) -> str:
    how = data.get("how")
    if how == "hung_up":
        return f"{_member(data)} hung up"
    if how == "failed":
        return f"{_member(data)} could not be reached ({data.get('status') or 'failed'})"
    if how == "gone":
        return f"{_member(data)} had left the call at the provider ({data.get('status')})"
    return f"{_member(data)} left the call"


def _monitor_ended(data: dict) -> str:
    text = f"Monitoring by {data.get('supervisor') or 'a supervisor'} ended"
    if data.get("how") == "hung_up":
        text += ": the supervisor's call ended"
    return text


def _ended(data: dict) -> str:
    """Ended by someone ('Session ended'), or by the call itself, as the provider reported."""
    how = data.get("how")
    if how == "hung_up":
        return "Session ended: the call was hung up"
    if how == "failed":
        return f"Session ended: the call could not be connected ({data.get('status') or 'failed'})"
    if how == "gone":
        return f"Session ended: the call had ended at the provider ({data.get('status')})"
    return "Session ended"


def _provider_failed(data: dict) -> str:
    action = data.get("action") or "the action"
    text = f"{action[:1].upper()}{action[1:]} failed at the telephony provider: {data.get('error')}"
    done = data.get("done") or []
    if done:
        text += f" (after {', '.join(done)})"
    return text


def _started(data: dict) -> str:
    return (
        f"{data.get('direction')} {str(data.get('channel', '')).lower()} "
        f"from {data.get('from_address')} to {data.get('to_address')}"
    )


_SENTENCES: dict[str, Callable[[dict], str]] = {
    EventKind.SESSION_STARTED: _started,
    EventKind.ANSWERED: lambda d: (
        f"Answered by {d.get('answered_by') or _change(d, 'answered_by_name')[1]}"
    ),
    EventKind.HELD: _held,
    EventKind.RESUMED: lambda d: "Resumed from hold",
    EventKind.HOLD_REASON_CHANGED: lambda d: f"Hold reason set to {_change(d, 'hold_reason')[1]}",
    EventKind.CALL_STATE_CHANGED: lambda d: "Call state {} -> {}".format(*_change(d, "call_state")),
    EventKind.QUEUE_STATE_CHANGED: lambda d: "Queue state {} -> {}".format(
        *_change(d, "queue_state")
    ),
    EventKind.CONSOLE_DATA_CHANGED: lambda d: "Console data updated",
    EventKind.MEMBER_INVITED: lambda d: (
        f"Invited {d.get('destination')} to the conference (caller id {d.get('from_number')})"
    ),
    EventKind.MEMBER_ANSWERED: lambda d: f"{_member(d)} answered",
    EventKind.MEMBER_LEFT: _member_left,
    EventKind.MEMBER_HELD: _held,
    EventKind.MEMBER_RESUMED: lambda d: f"{_member(d)} taken off hold",
    EventKind.MEMBER_MUTED: lambda d: f"{_member(d)} muted",
    EventKind.MEMBER_UNMUTED: lambda d: f"{_member(d)} unmuted",
    EventKind.CONFERENCE_STARTED: lambda d: f"Conference {d.get('conference_sid')} started",
    EventKind.MEMBER_REMOVED: lambda d: f"{_member(d)} removed from the conference",
    EventKind.REDIRECTED: lambda d: (
        f"Call transferred to {d.get('destination')} (caller id {d.get('caller_id')}); "
        "session ended"
    ),
    EventKind.MONITOR_STARTED: lambda d: (
        f"Monitoring started: {d.get('mode')}, ringing {d.get('destination')}"
    ),
    EventKind.MONITOR_CHANGED: lambda d: (
        f"Monitoring changed to {d.get('mode')} (was {d.get('previous_mode')})"
    ),
    EventKind.MONITOR_ENDED: _monitor_ended,
    EventKind.ENDED: _ended,
    EventKind.PROVIDER_FAILED: _provider_failed,
}

# Kinds whose sentence already says who did it, or that have no actor to name.
_NO_SUFFIX = {EventKind.SESSION_STARTED}


def _mid_sentence(kind: str, text: str) -> str:
    """A clause after a semicolon: its first word in lower case when it is the kind's own
    wording ("Hold reason changed" -> "hold reason changed"), never when it is data, such as
    a member's name ("Bob Agent muted")."""
    first = text.split(" ", 1)[0]
    if first.lower() in str(kind).split("_"):
        return first.lower() + text[len(first) :]
    return text


def render_message(kind: str, data: dict, actor_name: str, via: str) -> str:
    """The log line of one event, e.g. 'Ada Lovelace put on hold (Transferring) by alice via
    API' or '+15557654321 answered (via provider)'."""
    if kind == EventKind.NOTE:  # migrated prose: it already names its actor
        return str(data.get("message", ""))
    sentence = _SENTENCES.get(kind, lambda d: kind.replace("_", " ").capitalize())(data)
    for also in data.get("also", ()):
        clause = _SENTENCES.get(also)
        if clause is not None:
            sentence += "; " + _mid_sentence(also, clause(data))
    if kind in _NO_SUFFIX:
        return sentence
    return sentence + actor_suffix(actor_name, via)
