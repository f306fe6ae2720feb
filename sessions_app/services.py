"""Every write to a session. Each public function is one transaction:

    lock the session row -> check against the transition table -> ask the provider -> write
    -> append a log entry naming who and through what -> publish the change on commit.

A provider failure raises before anything is written, so the session is left as it was.
Concurrent actions on one session queue on the row lock (`select_for_update`), never race.
"""

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .errors import InvalidState, NotSupported, SessionEnded, TelephonyFailed, ValidationFailed
from .events import publish_on_commit
from .models import (
    HOLDABLE_CHANNELS,
    INVITE_ALLOWED_FROM,
    CallSession,
    CallState,
    Customer,
    DialState,
    Direction,
    HoldReason,
    MemberCallState,
    MemberRole,
    QueueState,
    SessionLogEntry,
    SessionMember,
    User,
    Via,
    call_state_move_allowed,
)
from .selectors import sessions_visible_to
from .telephony import TelephonyError, get_provider

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
SIP_URI = re.compile(r"^sips?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")
CLIENT_IDENTITY = re.compile(r"^client:[A-Za-z0-9_.@-]{1,128}$")

MAX_CONFERENCE_MEMBERS = 10


@dataclass(frozen=True)
class Actor:
    """Who is acting and through what: recorded on every log entry."""

    user: User | None
    via: str

    @property
    def name(self) -> str:
        return self.user.get_username() if self.user else self.via

    def describe(self) -> str:
        channel = {Via.API: "API", Via.PORTAL: "portal"}.get(self.via, self.via)
        return f"by {self.name} via {channel}" if self.user else f"(via {channel})"


PROVIDER = Actor(user=None, via=Via.PROVIDER)


def _lock(actor: Actor, session_id: str) -> CallSession:
    """Lock and return the session; the caller must be inside `transaction.atomic`.

    A session the actor may not see is indistinguishable from one that does not exist.
    """
    from .errors import SessionNotFound

    queryset = CallSession.objects if actor.user is None else sessions_visible_to(actor.user)
    try:
        return queryset.select_for_update().get(pk=session_id)
    except CallSession.DoesNotExist:
        raise SessionNotFound(session_id) from None


def _require_active(session: CallSession) -> None:
    if session.ended or session.call_state == CallState.DISCONNECTED:
        raise SessionEnded()


def _require_move(session: CallSession, target: str, action: str) -> None:
    if not call_state_move_allowed(session.call_state, target):
        raise InvalidState(f"Cannot {action}: the call is {session.call_state}")


def _log(session: CallSession, actor: Actor, message: str) -> None:
    SessionLogEntry.objects.create(
        session=session, message=f"{message} {actor.describe()}", actor=actor.user, via=actor.via
    )


def _save(session: CallSession, actor: Actor, fields: set[str], kind: str = "changed") -> None:
    session.date_last_modified = timezone.now()
    session.last_modified_by = actor.name
    session.save(update_fields=sorted(fields | {"date_last_modified", "last_modified_by"}))
    publish_on_commit(session_id=session.id, account_id=session.account_id, kind=kind)


def _provider_call(method, **kwargs):
    try:
        return method(**kwargs)
    except TelephonyError as error:
        raise TelephonyFailed(f"The telephony provider failed: {error}") from error


def _member_by_call_sid(session: CallSession, call_sid: str | None, field: str) -> SessionMember:
    """The member on `call_sid` (default: the session's own call)."""
    call_sid = call_sid or session.call_sid
    if not call_sid:  # filter(call_sid=None) would match a member that has no call (IS NULL)
        raise ValidationFailed.for_field(
            field, "NotEmpty", f"'{field}' is required: this session has no call of its own."
        )
    member = session.members.select_for_update().filter(call_sid=call_sid).first()
    if member is None:
        raise ValidationFailed.for_field(
            field, "NotFound", f"No member of this session is on call '{call_sid}'"
        )
    return member


def _connect_ringing_caller(session: CallSession) -> None:
    """The call is answered: its original member stops ringing (the session must be locked)."""
    session.members.filter(call_state=MemberCallState.RINGING, is_original_member=True).update(
        call_state=MemberCallState.CONNECTED
    )


# --- hold / resume ----------------------------------------------------------------------------


def _hold_locked(session: CallSession, actor: Actor, call_sid: str | None, reason: str) -> bool:
    """Hold one member's call; the session must be locked. Returns False if already held."""
    if session.channel not in HOLDABLE_CHANNELS:
        raise NotSupported(f"A {session.channel.lower()} session cannot be held")
    member = _member_by_call_sid(session, call_sid, "CallSid")
    if session.call_state == CallState.HOLD and member.call_state == MemberCallState.HOLD:
        return False  # idempotent: already held, nothing to do, nothing to log
    if session.call_state != CallState.HOLD:
        _require_move(session, CallState.HOLD, "hold")
    if member.call_state not in (MemberCallState.CONNECTED, MemberCallState.HOLD):
        raise InvalidState(f"Cannot hold: the member's call is {member.call_state}")
    result = _provider_call(get_provider().hold, call_sid=member.call_sid)
    member.call_state = MemberCallState.HOLD
    member.save(update_fields=["call_state"])
    session.call_state = CallState.HOLD
    session.hold_reason = reason
    session.held_by_user_id = actor.user.id if actor.user else None
    session.hold_queue_name = result.queue_name
    session.held_at = session.held_at or timezone.now()
    reason_text = "" if reason == HoldReason.NONE else f" ({reason})"
    _log(session, actor, f"{member.display_name or member.call_sid} put on hold{reason_text}")
    _save(
        session,
        actor,
        {"call_state", "hold_reason", "held_by_user_id", "hold_queue_name", "held_at"},
    )
    return True


def _resume_locked(session: CallSession, actor: Actor) -> None:
    """Take every held member off hold; the session must be locked and on hold."""
    # Only a held call resumes: Ringing/Passive -> Connected is an answer, not a resume.
    if session.call_state != CallState.HOLD:
        raise InvalidState(f"Cannot resume: the call is {session.call_state}")
    _require_move(session, CallState.CONNECTED, "resume")
    provider = get_provider()
    held = list(session.members.select_for_update().filter(call_state=MemberCallState.HOLD))
    for member in held:
        _provider_call(
            provider.resume, call_sid=member.call_sid, queue_name=session.hold_queue_name
        )
    for member in held:
        member.call_state = MemberCallState.CONNECTED
        member.save(update_fields=["call_state"])
    session.call_state = CallState.CONNECTED
    session.hold_reason = HoldReason.NONE
    session.held_by_user_id = None
    session.hold_queue_name = None
    session.held_at = None
    _log(session, actor, "Resumed from hold")
    _save(
        session,
        actor,
        {"call_state", "hold_reason", "held_by_user_id", "hold_queue_name", "held_at"},
    )


def session_hold(
    *,
    actor: Actor,
    session_id: str,
    call_sid: str | None = None,
    reason: str = HoldReason.NONE,
) -> CallSession:
    """Hold the member call `call_sid` (default: the session's own call).

    Holding a call that is already on hold changes nothing and logs nothing.
    """
    with transaction.atomic():
        session = _lock(actor, session_id)
        _require_active(session)
        _hold_locked(session, actor, call_sid, reason)
    return session


def session_resume(*, actor: Actor, session_id: str) -> CallSession:
    """Take a held session off hold (Hold -> Connected)."""
    with transaction.atomic():
        session = _lock(actor, session_id)
        _require_active(session)
        _resume_locked(session, actor)
    return session


# --- end ----------------------------------------------------------------------------------------


def _end_locked(session: CallSession, actor: Actor, call_sid: str | None) -> None:
    if call_sid and call_sid != session.call_sid:
        _member_by_call_sid(session, call_sid, "CallSid")  # must be one of ours
    _provider_call(get_provider().hangup, call_sid=call_sid or session.call_sid or "")
    session.ended = True
    session.call_state = CallState.DISCONNECTED
    session.dial_state = DialState.NONE
    session.date_completed = timezone.now()
    session.held_at = None
    _log(session, actor, "Session ended")
    _save(
        session,
        actor,
        {"ended", "call_state", "dial_state", "date_completed", "held_at"},
        kind="ended",
    )


def session_end(*, actor: Actor, session_id: str, call_sid: str | None = None) -> CallSession:
    """Hang the call up through the provider and end the session. Ending twice is a 409."""
    with transaction.atomic():
        session = _lock(actor, session_id)
        _require_active(session)
        _end_locked(session, actor, call_sid)
    return session


# --- patch --------------------------------------------------------------------------------------

UNSET = object()


def session_patch(
    *,
    actor: Actor,
    session_id: str,
    console_data=UNSET,
    call_state: str | None = None,
    hold_reason: str | None = None,
    queue_state: str | None = None,
) -> CallSession:
    """Change only what is given. CallState moves go through the transition table:
    `-> Hold` holds, `Hold -> Connected` resumes, `-> Disconnected` ends the session."""
    with transaction.atomic():
        session = _lock(actor, session_id)
        _require_active(session)

        if console_data is not UNSET and console_data != session.console_data:
            session.console_data = console_data
            _log(session, actor, "Console data updated")
            _save(session, actor, {"console_data"})

        if queue_state is not None and queue_state != session.queue_state:
            previous, session.queue_state = session.queue_state, queue_state
            _log(session, actor, f"Queue state {previous} -> {queue_state}")
            _save(session, actor, {"queue_state"})

        if call_state is not None and call_state != session.call_state:
            if call_state == CallState.HOLD:
                _hold_locked(session, actor, None, hold_reason or HoldReason.NONE)
                hold_reason = None  # taken by the hold
            elif call_state == CallState.DISCONNECTED:
                _end_locked(session, actor, None)
            elif session.call_state == CallState.HOLD and call_state == CallState.CONNECTED:
                _resume_locked(session, actor)
            else:
                _require_move(session, call_state, f"move the call to {call_state}")
                if call_state == CallState.CONNECTED:
                    _connect_ringing_caller(session)
                previous, session.call_state = session.call_state, call_state
                _log(session, actor, f"Call state {previous} -> {call_state}")
                _save(session, actor, {"call_state"})

        if hold_reason is not None and not session.ended:
            if session.call_state == CallState.HOLD:
                if hold_reason != session.hold_reason:
                    session.hold_reason = hold_reason
                    _log(session, actor, f"Hold reason set to {hold_reason}")
                    _save(session, actor, {"hold_reason"})
            elif hold_reason != HoldReason.NONE:
                raise InvalidState(f"Cannot set a hold reason: the call is {session.call_state}")
    return session


# --- conference ---------------------------------------------------------------------------------


def validate_destination(destination: str | None, field: str = "Destination") -> str:
    """An E.164 number, a `sip:` URI or a `client:` identity."""
    destination = (destination or "").strip()
    if not destination:
        raise ValidationFailed.for_field(field, "NotEmpty", f"'{field}' must not be empty.")
    if not (
        E164.match(destination) or SIP_URI.match(destination) or CLIENT_IDENTITY.match(destination)
    ):
        raise ValidationFailed.for_field(
            field,
            "InvalidDestination",
            f"'{field}' must be an E.164 number (+15551234567), a sip: URI or a client: identity.",
        )
    return destination


def validate_e164(number: str | None, field: str = "FromNumber") -> str:
    number = (number or "").strip()
    if not E164.match(number):
        raise ValidationFailed.for_field(
            field, "InvalidPhoneNumber", f"'{field}' must be an E.164 number like +15551234567."
        )
    return number


def own_number(session: CallSession) -> str | None:
    """The session's own number: the one called for incoming calls, the caller for outgoing."""
    return session.to_address if session.direction == Direction.INCOMING else session.from_address


def conference_member_add(
    *,
    actor: Actor,
    session_id: str,
    destination: str | None,
    from_number: str | None = None,
    call_sid: str | None = None,
) -> CallSession:
    """Dial `destination` into the session's conference (made one first if need be)."""
    destination = validate_destination(destination)
    with transaction.atomic():
        session = _lock(actor, session_id)
        _require_active(session)
        if session.channel not in HOLDABLE_CHANNELS:
            raise NotSupported(f"A {session.channel.lower()} session cannot have a conference")
        if from_number:
            from_number = validate_e164(from_number)
        else:
            default = own_number(session)
            if not default or not E164.match(default):
                raise ValidationFailed.for_field(
                    "FromNumber",
                    "NotEmpty",
                    "'FromNumber' is required: this session has no E.164 number of its own.",
                )
            from_number = default
        if session.call_state not in INVITE_ALLOWED_FROM:
            raise InvalidState(f"Cannot invite: the call is {session.call_state}")
        anchor = _member_by_call_sid(session, call_sid, "CallSid")
        if session.members.count() >= MAX_CONFERENCE_MEMBERS:
            raise InvalidState(f"The conference is full ({MAX_CONFERENCE_MEMBERS} members)")

        provider = get_provider()
        fields = {"most_recent_participant_call_sid", "dial_state"}
        if not session.conference_sid:
            session.conference_sid = _provider_call(
                provider.start_conference, call_sid=anchor.call_sid, name=f"session-{session.id}"
            )
            fields.add("conference_sid")
        new_call_sid = _provider_call(
            provider.dial_into_conference,
            conference_sid=session.conference_sid,
            destination=destination,
            from_number=from_number,
        )
        SessionMember.objects.create(
            session=session,
            identity=destination,
            display_name=destination,
            role=MemberRole.TRANSFER,
            call_state=MemberCallState.RINGING,
            is_original_member=False,
            call_sid=new_call_sid,
        )
        session.most_recent_participant_call_sid = new_call_sid
        session.dial_state = DialState.ACTIVE
        _log(session, actor, f"Invited {destination} to the conference (caller id {from_number})")
        _save(session, actor, fields)
    return session


def member_answered(*, call_sid: str) -> CallSession | None:
    """The provider reports that an invited party answered: Ringing -> Connected.

    Returns None if no ringing member is on that call (it was hung up, or never committed).
    """
    with transaction.atomic():
        member = SessionMember.objects.filter(call_sid=call_sid).only("session_id").first()
        if member is None:
            return None
        session = _lock(PROVIDER, member.session_id)
        member = session.members.select_for_update().get(pk=member.pk)
        if session.ended or member.call_state != MemberCallState.RINGING:
            return None
        member.call_state = MemberCallState.CONNECTED
        member.save(update_fields=["call_state"])
        fields = set()
        if not session.members.filter(call_state=MemberCallState.RINGING).exists():
            session.dial_state = DialState.NONE
            fields.add("dial_state")
        _log(session, PROVIDER, f"{member.display_name or call_sid} answered")
        _save(session, PROVIDER, fields)
    return session


# --- creation (demo data, traffic simulator, provider webhooks) ------------------------------


def session_start(
    *,
    actor: Actor,
    account_id: str,
    customer: Customer | None = None,
    endpoint=None,
    direction: str = Direction.INCOMING,
    channel: str = "Voice",
    from_address: str,
    from_name: str | None = None,
    to_address: str,
    queue_state: str = QueueState.NONE,
    when=None,
) -> CallSession:
    """A new call arrives (or is placed): a ringing session with its caller as first member."""
    from .telephony.simulated import new_sid

    now = when or timezone.now()
    with transaction.atomic():
        session = CallSession.objects.create(
            account_id=account_id,
            customer=customer,
            endpoint=endpoint,
            direction=direction,
            channel=channel,
            call_state=CallState.RINGING,
            queue_state=queue_state,
            from_address=from_address,
            from_name=from_name,
            from_phone_number=from_address if channel == "Chat" else None,
            to_address=to_address,
            destination=to_address,
            display_name=from_name or from_address,
            call_sid=new_sid("CA"),
            date_created=now,
            date_last_modified=now,
            created_by=actor.name,
            last_modified_by=actor.name,
        )
        SessionMember.objects.create(
            session=session,
            identity=from_address,
            display_name=from_name or from_address,
            role=MemberRole.CALLER if direction == Direction.INCOMING else MemberRole.AGENT,
            call_state=MemberCallState.RINGING,
            is_original_member=True,
            call_sid=session.call_sid,
            date_created=now,
        )
        SessionLogEntry.objects.create(
            session=session,
            date=now,
            message=f"{direction} {channel.lower()} from {from_address} to {to_address}",
            actor=actor.user,
            via=actor.via,
        )
        publish_on_commit(session_id=session.id, account_id=account_id, kind="created")
    return session


def session_answer(
    *, actor: Actor, session_id: str, answered_by_name: str, answered_by_id: str | None = None
) -> CallSession:
    """The session's call is answered (Ringing/Passive -> Connected): the caller is connected."""
    with transaction.atomic():
        session = _lock(actor, session_id)
        _require_active(session)
        _require_move(session, CallState.CONNECTED, "answer")
        _connect_ringing_caller(session)
        session.call_state = CallState.CONNECTED
        session.answered_by_name = answered_by_name
        session.answered_by_id = answered_by_id
        if session.queue_state in (QueueState.QUEUED, QueueState.RINGING):
            session.queue_state = QueueState.CONNECTED
        _log(session, actor, f"Answered by {answered_by_name}")
        _save(session, actor, {"call_state", "answered_by_name", "answered_by_id", "queue_state"})
    return session
