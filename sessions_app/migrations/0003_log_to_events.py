"""Prose log rows become typed events, and existing rows are brought in line with the
invariants that 0004 makes constraints.

Each log line was written by this app from a handful of sentence shapes, so its kind and data
can be recovered once, here; a line of any other shape becomes a `note` event that renders as
the original text. Rendered again (`eventlog.render_message`), every converted event reads
exactly as its log line did.
"""

import re

from django.db import migrations

SUFFIX_USER = re.compile(r"^(?P<text>.*) by (?P<user>\S+) via (?P<via>API|portal)$", re.DOTALL)
SUFFIX_SYSTEM = re.compile(r"^(?P<text>.*) \(via (?P<via>provider|system|api|portal)\)$", re.DOTALL)

SHAPES = [
    (
        "session_started",
        re.compile(
            r"^(?P<direction>Incoming|Outgoing) (?P<channel>voice|chat|fax) "
            r"from (?P<from_address>\S+) to (?P<to_address>\S+)$"
        ),
    ),
    ("answered", re.compile(r"^Answered by (?P<answered_by_name>.+)$")),
    ("held", re.compile(r"^(?P<member>.+?) put on hold(?: \((?P<reason>\w+)\))?$")),
    ("resumed", re.compile(r"^Resumed from hold$")),
    ("ended", re.compile(r"^Session ended$")),
    ("console_data_changed", re.compile(r"^Console data updated$")),
    ("queue_state_changed", re.compile(r"^Queue state (?P<before>\w+) -> (?P<after>\w+)$")),
    ("call_state_changed", re.compile(r"^Call state (?P<before>\w+) -> (?P<after>\w+)$")),
    ("hold_reason_changed", re.compile(r"^Hold reason set to (?P<after>\w+)$")),
    (
        "member_invited",
        re.compile(
            r"^Invited (?P<destination>\S+) to the conference \(caller id (?P<from_number>\S+)\)$"
        ),
    ),
    ("member_answered", re.compile(r"^(?P<member>.+) answered$")),
]


def parse(message: str) -> tuple[str, dict, str, str]:
    """(kind, data, actor_name, via) of one log line."""
    actor_name, via, text = "", None, message
    match = SUFFIX_USER.match(message)
    if match:
        text, actor_name, via = match["text"], match["user"], match["via"].lower()
    else:
        match = SUFFIX_SYSTEM.match(message)
        if match:
            text, via = match["text"], match["via"]
    for kind, shape in SHAPES:
        found = shape.match(text)
        if not found or (kind != "session_started" and via is None):
            continue
        if kind == "session_started" and via is not None:
            continue
        values = found.groupdict()
        if kind == "session_started":
            values["channel"] = values["channel"].capitalize()
            return kind, values, "", "system"
        if kind == "answered":
            data = {"changes": {"answered_by_name": [None, values["answered_by_name"]]}}
        elif kind in ("held", "member_answered"):
            data = {"member": {"call_sid": None, "name": values["member"]}}
            if values.get("reason"):
                data["reason"] = values["reason"]
        elif kind == "queue_state_changed":
            data = {"changes": {"queue_state": [values["before"], values["after"]]}}
        elif kind == "call_state_changed":
            data = {"changes": {"call_state": [values["before"], values["after"]]}}
        elif kind == "hold_reason_changed":
            data = {"changes": {"hold_reason": [None, values["after"]]}}
        elif kind == "member_invited":
            data = values
        else:
            data = {}
        return kind, data, actor_name, via
    return "note", {"message": message}, actor_name, via or "system"


def forwards(apps, schema_editor):
    SessionLogEntry = apps.get_model("sessions_app", "SessionLogEntry")
    SessionEvent = apps.get_model("sessions_app", "SessionEvent")
    batch = []
    rows = SessionLogEntry.objects.select_related("actor").order_by("date", "id")
    for row in rows.iterator(chunk_size=2000):
        kind, data, actor_name, via = parse(row.message)
        if row.actor_id and not actor_name:
            actor_name = row.actor.username
        batch.append(
            SessionEvent(
                session_id=row.session_id,
                kind=kind,
                data=data,
                actor_id=row.actor_id,
                actor_name=actor_name,
                via=row.via if kind == "note" else via,
                date=row.date,
            )
        )
        if len(batch) >= 2000:
            SessionEvent.objects.bulk_create(batch)
            batch = []
    SessionEvent.objects.bulk_create(batch)
    _bring_in_line(apps)


def _bring_in_line(apps):
    """Rows written before the invariants were enforced: an ended session is Disconnected,
    off hold, completed, and has nobody left on the call; a call SID appears once per session;
    every customer's path follows its parent's."""
    from django.db.models import F, Q

    CallSession = apps.get_model("sessions_app", "CallSession")
    SessionMember = apps.get_model("sessions_app", "SessionMember")
    Customer = apps.get_model("sessions_app", "Customer")

    ended = CallSession.objects.filter(Q(ended=True) | Q(call_state="Disconnected"))
    ended.filter(date_completed__isnull=True).update(date_completed=F("date_last_modified"))
    ended.update(
        ended=True,
        call_state="Disconnected",
        dial_state="None",
        hold_reason="None",
        held_by_user_id=None,
        hold_queue_name=None,
        held_at=None,
    )
    SessionMember.objects.filter(session__ended=True).exclude(call_state="None").update(
        call_state="None"
    )

    seen = set()
    for member_id, session_id, call_sid in (
        SessionMember.objects.exclude(call_sid=None)
        .order_by("session_id", "id")
        .values_list("id", "session_id", "call_sid")
    ):
        if (session_id, call_sid) in seen:
            SessionMember.objects.filter(pk=member_id).update(call_sid=None)
        seen.add((session_id, call_sid))

    paths = {}
    pending = list(Customer.objects.values_list("id", "parent_id", "path"))
    while pending:
        later = []
        for customer_id, parent_id, path in pending:
            if parent_id is None or parent_id in paths:
                prefix = paths[parent_id] if parent_id else "/"
                paths[customer_id] = f"{prefix}{customer_id}/"
                if path != paths[customer_id]:
                    Customer.objects.filter(pk=customer_id).update(path=paths[customer_id])
            else:
                later.append((customer_id, parent_id, path))
        if len(later) == len(pending):  # a cycle: cut it at the top
            customer_id, _, _ = later[0]
            Customer.objects.filter(pk=customer_id).update(parent_id=None)
            later[0] = (customer_id, None, later[0][2])
        pending = later


def backwards(apps, schema_editor):
    SessionLogEntry = apps.get_model("sessions_app", "SessionLogEntry")
    SessionEvent = apps.get_model("sessions_app", "SessionEvent")
    SessionLogEntry.objects.bulk_create(
        SessionLogEntry(
            session_id=event.session_id,
            date=event.date,
            message=event.data.get("message") or event.kind.replace("_", " ").capitalize(),
            actor_id=event.actor_id,
            via=event.via,
        )
        for event in SessionEvent.objects.order_by("seq").iterator()
    )
    SessionEvent.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0002_session_events")]

    operations = [migrations.RunPython(forwards, backwards)]
