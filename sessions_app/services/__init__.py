"""Every write. Sessions change only through the action unit (`unit`): lock, check, apply,
record one event, publish on commit, with provider calls outside the lock. What the provider
reports comes in through the inbox (`inbox`). Import the actions from here."""

from .customers import customer_move
from .inbox import (
    inbox_process,
    process_inbox_forever,
    provider_report_note,
    provider_report_receive,
)
from .incoming import IncomingCallRouting, Routing, incoming_call_receive
from .provider import get_provider
from .reconcile import ReconcileResult, reconcile_forever, sessions_reconcile
from .sessions import (
    UNSET,
    conference_member_add,
    conference_member_remove,
    conference_member_update,
    session_answer,
    session_end,
    session_hold,
    session_monitor,
    session_patch,
    session_redirect,
    session_resume,
    session_ring_agent,
    session_start,
    validate_destination,
    validate_e164,
)
from .unit import PROVIDER, SYSTEM, Actor

__all__ = [
    "PROVIDER",
    "SYSTEM",
    "UNSET",
    "Actor",
    "ReconcileResult",
    "IncomingCallRouting",
    "Routing",
    "conference_member_add",
    "conference_member_remove",
    "conference_member_update",
    "customer_move",
    "get_provider",
    "incoming_call_receive",
    "inbox_process",
    "process_inbox_forever",
    "provider_report_note",
    "provider_report_receive",
    "reconcile_forever",
    "session_answer",
    "session_end",
    "session_hold",
    "session_monitor",
    "session_patch",
    "session_redirect",
    "session_resume",
    "session_ring_agent",
    "session_start",
    "sessions_reconcile",
    "validate_destination",
    "validate_e164",
]
