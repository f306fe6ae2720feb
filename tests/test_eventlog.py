"""`eventlog`: each kind of event in words, as the wire's `SessionLogInfo.Message` shows it."""

import pytest

from sessions_app.eventlog import render_message
from sessions_app.models import EventKind

ADA = {"member": {"call_sid": "CA1", "name": "Ada Lovelace"}}


@pytest.mark.parametrize(
    ("kind", "data", "actor", "via", "message"),
    [
        (
            EventKind.SESSION_STARTED,
            {"direction": "Incoming", "channel": "Voice", "from_address": "+1", "to_address": "+2"},
            "",
            "provider",
            "Incoming voice from +1 to +2",
        ),
        (
            EventKind.ANSWERED,
            {"changes": {"answered_by_name": [None, "Bob"]}},
            "",
            "provider",
            "Answered by Bob (via provider)",
        ),
        (
            EventKind.HELD,
            {**ADA, "reason": "None"},
            "alice",
            "api",
            "Ada Lovelace put on hold by alice via API",
        ),
        (
            EventKind.HELD,
            {**ADA, "reason": "Transferring"},
            "alice",
            "portal",
            "Ada Lovelace put on hold (Transferring) by alice via portal",
        ),
        (EventKind.RESUMED, {}, "", "system", "Resumed from hold (via system)"),
        (
            EventKind.HOLD_REASON_CHANGED,
            {"changes": {"hold_reason": ["None", "Transferring"]}},
            "alice",
            "api",
            "Hold reason set to Transferring by alice via API",
        ),
        (
            EventKind.CALL_STATE_CHANGED,
            {"changes": {"call_state": ["Ringing", "Connected"]}},
            "alice",
            "api",
            "Call state Ringing -> Connected by alice via API",
        ),
        (
            EventKind.QUEUE_STATE_CHANGED,
            {"changes": {"queue_state": ["None", "Queued"]}},
            "alice",
            "api",
            "Queue state None -> Queued by alice via API",
        ),
        (
            EventKind.CONSOLE_DATA_CHANGED,
            {},
            "alice",
            "api",
            "Console data updated by alice via API",
        ),
        (
            EventKind.MEMBER_INVITED,
            {"destination": "+3", "from_number": "+2"},
            "alice",
            "portal",
            "Invited +3 to the conference (caller id +2) by alice via portal",
        ),
        (EventKind.MEMBER_ANSWERED, ADA, "", "provider", "Ada Lovelace answered (via provider)"),
        (EventKind.MEMBER_LEFT, ADA, "", "provider", "Ada Lovelace left the call (via provider)"),
        (
            EventKind.MEMBER_LEFT,
            {**ADA, "how": "hung_up"},
            "alice",
            "api",
            "Ada Lovelace hung up by alice via API",
        ),
        (
            EventKind.MEMBER_LEFT,
            {**ADA, "how": "failed", "status": "busy"},
            "",
            "provider",
            "Ada Lovelace could not be reached (busy) (via provider)",
        ),
        (EventKind.MEMBER_HELD, ADA, "", "provider", "Ada Lovelace put on hold (via provider)"),
        (
            EventKind.MEMBER_RESUMED,
            ADA,
            "",
            "provider",
            "Ada Lovelace taken off hold (via provider)",
        ),
        (EventKind.MEMBER_MUTED, ADA, "", "provider", "Ada Lovelace muted (via provider)"),
        (EventKind.MEMBER_UNMUTED, ADA, "", "provider", "Ada Lovelace unmuted (via provider)"),
        (EventKind.ENDED, {}, "alice", "api", "Session ended by alice via API"),
        (
            EventKind.ENDED,
            {"how": "hung_up"},
            "",
            "provider",
            "Session ended: the call was hung up (via provider)",
        ),
        (
            EventKind.ENDED,
            {"how": "failed", "status": "busy"},
            "",
            "provider",
            "Session ended: the call could not be connected (busy) (via provider)",
        ),
        (
            EventKind.PROVIDER_FAILED,
            {"action": "invite", "error": "Busy", "done": ["start a conference for CA1"]},
            "alice",
            "api",
            "Invite failed at the telephony provider: Busy (after start a conference for CA1) "
            "by alice via API",
        ),
        (
            EventKind.NOTE,
            {"message": "Recorded by hand by bob via API"},
            "",
            "system",
            "Recorded by hand by bob via API",
        ),
    ],
)
def test_each_kind_in_words(kind, data, actor, via, message):
    assert render_message(kind, data, actor, via) == message


def test_secondary_kinds_add_their_clauses_in_order():
    data = {
        **ADA,
        "reason": "Transferring",
        "changes": {"queue_state": ["None", "Queued"]},
        "also": [EventKind.QUEUE_STATE_CHANGED, EventKind.CONSOLE_DATA_CHANGED],
    }

    assert render_message(EventKind.HELD, data, "alice", "api") == (
        "Ada Lovelace put on hold (Transferring); queue state None -> Queued; "
        "console data updated by alice via API"
    )


def test_a_secondary_clause_keeps_a_name_that_begins_it():
    data = {"member": {"name": "Bob Agent"}, "also": [EventKind.MEMBER_MUTED]}

    assert render_message(EventKind.MEMBER_HELD, data, "alice", "api") == (
        "Bob Agent put on hold; Bob Agent muted by alice via API"
    )


def test_an_unnamed_member_is_still_a_sentence():
    assert render_message(EventKind.MEMBER_ANSWERED, {}, "", "provider") == (
        "A member answered (via provider)"
    )
