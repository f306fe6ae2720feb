"""Every write to a session: start, answer, hold, resume, patch, invite, end, ring an agent.

Each public function is one action of the unit (`unit.run_action`). Its `decide` function
checks the rules against the locked session and returns the change to record, or the provider
calls to make first (a `Plan`) and how their results change the session.
"""

import re
from collections.abc import Collection
from functools import partial

from django.db import transaction
from django.utils import timezone

from sessions_app.errors import InvalidState, NotSupported, ValidationFailed
from sessions_app.models import (
    HOLDABLE_CHANNELS,
    MAX_CONFERENCE_MEMBERS,
    CallSession,
    CallState,
    Channel,
    Customer,
    DialState,
    Direction,
    Endpoint,
    EventKind,
    HoldReason,
    MemberCallState,
    MemberRole,
    QueueState,
    SessionMember,
)
from sessions_app.telephony import MonitorMode

from .changes import (
    MEMBER_GONE,
    MEMBER_OFF_HOLD,
    UNMONITORED,
    answer_change,
    conference_name,
    connect_ringing_caller,
    dial_state_after,
    end_change,
    fresh,
    resumed_fields,
    who,
)
from .conflicts import (
    already_monitored,
    call_state_conflict,
    conference_full,
    member_already,
    member_not,
    member_state_conflict,
    not_monitored,
    session_ended,
)
from .provider import get_provider
from .unit import (
    Actor,
    Change,
    Decision,
    Outcome,
    Plan,
    Step,
    member_by_call_sid,
    record_new_session,
    require_allowed,
    require_move,
    run_action,
)

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
SIP_URI = re.compile(r"^sips?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@[A-Za-z0-9.-]+(:\d{1,5})?$")
CLIENT_IDENTITY = re.compile(r"^client:[A-Za-z0-9_.@-]{1,128}$")

UNSET = object()


# --- start and answer (demo data, traffic, provider reports) ----------------------------------


def session_start(
    *,
    actor: Actor,
    account_id: str,
    call_sid: str | None,
    customer: Customer | None = None,
    endpoint=None,
    direction: str = Direction.INCOMING,
    channel: str = Channel.VOICE,
    from_address: str,
    from_name: str | None = None,
    to_address: str,
    queue_state: str = QueueState.NONE,
    when=None,
) -> CallSession:
    """A new call arrives (or is placed): a ringing session with its caller as first member.
    `call_sid` is the provider's SID of the call."""
    now = when or timezone.now()
    session = CallSession(
        account_id=account_id,
        customer=customer,
        endpoint=endpoint,
        direction=direction,
        channel=channel,
        call_state=CallState.RINGING,
        queue_state=queue_state,
        from_address=from_address,
        from_name=from_name,
        from_phone_number=from_address if channel == Channel.CHAT else None,
        to_address=to_address,
        destination=to_address,
        display_name=from_name or from_address,
        call_sid=call_sid,
        date_created=now,
        date_last_modified=now,
    )
    caller = SessionMember(
        identity=from_address,
        display_name=from_name or from_address,
        role=MemberRole.CALLER if direction == Direction.INCOMING else MemberRole.AGENT,
        call_state=MemberCallState.RINGING,
        is_original_member=True,
        call_sid=call_sid,
        date_created=now,
    )
    data = {
        "direction": direction,
        "channel": channel,
        "from_address": from_address,
        "to_address": to_address,
        "call_sid": call_sid,
    }
    with transaction.atomic(durable=True):
        record_new_session(session, [caller], actor, data)
    return session


def session_answer(
    *, actor: Actor, session_id: str, answered_by_name: str, answered_by_id: str | None = None
) -> CallSession:
    """The session's call is answered by `answered_by_name`."""
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: answer_change(session, answered_by_name, answered_by_id),
    )


# --- hold / resume ----------------------------------------------------------------------------


def _hold_plan(session: CallSession, actor: Actor, call_sid: str | None, reason: str) -> Decision:
    require_allowed(session, "hold")
    member = member_by_call_sid(session, call_sid, "CallSid")
    if session.is_held and member.call_state == MemberCallState.HOLD:
        return None  # idempotent: already held, nothing to do, nothing to record
    if member.call_state not in (MemberCallState.CONNECTED, MemberCallState.HOLD):
        raise member_state_conflict(session, member, "hold")
    provider = get_provider()

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        change = Change(EventKind.HELD, data={"member": who(member), "reason": reason})
        if not outcome.results:
            return change
        [held] = fresh(session, [member])
        queue = outcome.results[0].queue_name
        change.member(held, call_state=MemberCallState.HOLD, hold_queue_name=queue)
        change.session.update(
            call_state=CallState.HOLD,
            hold_reason=reason,
            held_by_user_id=actor.user.id if actor.user else None,
            hold_queue_name=session.hold_queue_name or queue,
            held_at=session.held_at or timezone.now(),
        )
        return change

    step = Step(
        f"hold {member.call_sid}",
        partial(provider.hold, call_sid=member.call_sid, conference_sid=session.conference_sid),
    )
    return Plan("hold", [step], conclude)


def session_hold(
    *,
    actor: Actor,
    session_id: str,
    call_sid: str | None = None,
    reason: str = HoldReason.NONE,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Hold the member call `call_sid` (default: the session's own call).

    Holding a call that is already on hold changes nothing and records nothing.
    """
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _hold_plan(session, actor, call_sid, reason),
        if_match=if_match,
    )


def _resume_plan(session: CallSession) -> Plan:
    require_allowed(session, "resume")
    held = list(session.members.filter(call_state=MemberCallState.HOLD))
    provider = get_provider()

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        """Members resumed before a failure are recorded as connected; the call leaves hold
        only when all of them have."""
        change = Change(EventKind.RESUMED)
        for member in fresh(session, held[: len(outcome.results)]):
            change.member(member, **MEMBER_OFF_HOLD)
        if len(outcome.results) == len(held):
            change.session.update(resumed_fields())
        return change

    steps = [
        Step(
            f"resume {m.call_sid}",
            partial(
                provider.resume,
                call_sid=m.call_sid,
                queue_name=m.hold_queue_name or session.hold_queue_name,
                conference_sid=session.conference_sid,
            ),
        )
        for m in held
    ]
    return Plan("resume", steps, conclude)


def session_resume(
    *, actor: Actor, session_id: str, if_match: Collection[str] | None = None
) -> CallSession:
    """Take a held session off hold (Hold -> Connected)."""
    return run_action(actor=actor, session_id=session_id, decide=_resume_plan, if_match=if_match)


# --- end --------------------------------------------------------------------------------------


def _end_plan(session: CallSession, call_sid: str | None) -> Plan:
    require_allowed(session, "end")
    if call_sid and call_sid != session.call_sid:
        return _hang_up_member_plan(session, call_sid)
    provider = get_provider()
    # The other legs first, the session's own last: if hanging up fails partway, the session
    # still has its call and what was hung up is recorded.
    legs = [
        m
        for m in session.members.all()
        if m.on_call and m.call_sid and m.call_sid != session.call_sid
    ]
    # The supervisor's leg, if one monitors, goes with them.
    monitor = [session.monitor_call_sid] if session.monitor_call_sid else []
    sids = monitor + [m.call_sid for m in legs] + ([session.call_sid] if session.call_sid else [])
    steps = [Step(f"hang up {sid}", partial(provider.hangup, call_sid=sid)) for sid in sids]

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        if len(outcome.results) == len(steps):
            return end_change(session)
        change = Change(EventKind.ENDED)
        done = len(outcome.results)
        if monitor and done:
            change.session.update(UNMONITORED)
            done -= 1
        for member in fresh(session, legs[:done]):
            change.member(member, **MEMBER_GONE)
        return change

    return Plan("end", steps, conclude)


def _hang_up_member_plan(session: CallSession, call_sid: str) -> Plan:
    member = member_by_call_sid(session, call_sid, "CallSid")
    if not member.on_call:
        raise member_state_conflict(session, member, "hang up")
    provider = get_provider()

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        change = Change(EventKind.MEMBER_LEFT, data={"member": who(member), "how": "hung_up"})
        if outcome.results:
            [leaving] = fresh(session, [member])
            change.member(leaving, **MEMBER_GONE)
            dial_state_after(session, change, leaving)
        return change

    step = Step(f"hang up {call_sid}", partial(provider.hangup, call_sid=call_sid))
    return Plan("hang up", [step], conclude)


def session_end(
    *,
    actor: Actor,
    session_id: str,
    call_sid: str | None = None,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """End the session: hang up every leg and record it ended. With the `call_sid` of another
    member, hang up only that member's leg; the session goes on. Ending twice is a 409."""
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _end_plan(session, call_sid),
        if_match=if_match,
    )


# --- patch ------------------------------------------------------------------------------------


def _patch_decision(
    session: CallSession,
    actor: Actor,
    console_data,
    call_state: str | None,
    hold_reason: str | None,
    queue_state: str | None,
) -> Decision:
    if not session.actions.end:
        raise session_ended(session)
    plan: Plan | None = None
    # Changes that need no provider, most significant first: the first names the event.
    simple: list[Change] = []
    state_after = session.call_state
    if call_state is not None and call_state != session.call_state:
        state_after = call_state
        if call_state == CallState.HOLD:
            plan = _hold_plan(session, actor, None, hold_reason or HoldReason.NONE)
            hold_reason = None  # taken by the hold
        elif call_state == CallState.DISCONNECTED:
            plan = _end_plan(session, None)
            hold_reason = None  # an ended call has no hold
        elif session.is_held and call_state == CallState.CONNECTED:
            plan = _resume_plan(session)
        else:
            require_move(session, call_state, f"move the call to {call_state}")
            change = Change(EventKind.CALL_STATE_CHANGED, session={"call_state": call_state})
            if call_state == CallState.CONNECTED:
                connect_ringing_caller(session, change)
            simple.append(change)
    if hold_reason is not None:
        if state_after == CallState.HOLD:
            if hold_reason != session.hold_reason:
                simple.append(
                    Change(EventKind.HOLD_REASON_CHANGED, session={"hold_reason": hold_reason})
                )
        elif hold_reason != HoldReason.NONE:
            raise call_state_conflict(session, "set a hold reason")
    if queue_state is not None and queue_state != session.queue_state:
        simple.append(Change(EventKind.QUEUE_STATE_CHANGED, session={"queue_state": queue_state}))
    if console_data is not UNSET and console_data != session.console_data:
        simple.append(
            Change(EventKind.CONSOLE_DATA_CHANGED, session={"console_data": console_data})
        )

    def without_provider() -> Change | None:
        if not simple:
            return None
        first, *rest = simple
        for change in rest:
            first.merge(change)
        return first

    if plan is None:
        return without_provider()
    provider_conclude = plan.conclude

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        change = provider_conclude(session, outcome)
        rest = without_provider()
        if outcome.error is None and rest is not None:  # all or nothing
            change.merge(rest)
        return change

    return Plan(plan.action, plan.steps, conclude)


def session_patch(
    *,
    actor: Actor,
    session_id: str,
    console_data=UNSET,
    call_state: str | None = None,
    hold_reason: str | None = None,
    queue_state: str | None = None,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Change only what is given, all or nothing, as one event. CallState moves go through the
    transition table: `-> Hold` holds, `Hold -> Connected` resumes, `-> Disconnected` ends."""
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _patch_decision(
            session, actor, console_data, call_state, hold_reason, queue_state
        ),
        if_match=if_match,
    )


# --- conference -------------------------------------------------------------------------------


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
    """An E.164 number (+15551234567), for caller IDs."""
    number = (number or "").strip()
    if not E164.match(number):
        raise ValidationFailed.for_field(
            field, "InvalidPhoneNumber", f"'{field}' must be an E.164 number like +15551234567."
        )
    return number


def _invite_plan(
    session: CallSession, destination: str, from_number: str | None, call_sid: str | None
) -> Plan:
    if not session.actions.end:
        raise session_ended(session)
    if session.channel not in HOLDABLE_CHANNELS:
        raise NotSupported(f"A {session.channel.lower()} session cannot have a conference")
    if from_number:
        from_number = validate_e164(from_number)
    else:
        from_number = session.own_number
        if not from_number or not E164.match(from_number):
            raise ValidationFailed.for_field(
                "FromNumber",
                "NotEmpty",
                "'FromNumber' is required: this session has no E.164 number of its own.",
            )
    require_allowed(session, "invite")
    anchor = member_by_call_sid(session, call_sid, "CallSid")
    if not anchor.on_call:
        raise member_state_conflict(session, anchor, "invite")
    on_call = session.members.exclude(call_state=MemberCallState.NONE).count()
    if on_call >= MAX_CONFERENCE_MEMBERS:
        raise conference_full(session, on_call)

    provider = get_provider()
    conference = {"sid": session.conference_sid}
    steps = []
    if not conference["sid"]:

        def start_conference() -> str:
            conference["sid"] = provider.start_conference(
                call_sid=anchor.call_sid, name=conference_name(session.id)
            )
            return conference["sid"]

        steps.append(Step(f"start a conference for {anchor.call_sid}", start_conference))

    def dial() -> str:
        return provider.dial_into_conference(
            conference_sid=conference["sid"], destination=destination, from_number=from_number
        )

    steps.append(Step(f"dial {destination}", dial))
    starts_conference = len(steps) == 2

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        change = Change(
            EventKind.MEMBER_INVITED, data={"destination": destination, "from_number": from_number}
        )
        results = list(outcome.results)
        if starts_conference and results:
            change.session["conference_sid"] = results.pop(0)
        if results:
            new_call_sid = results[0]
            member = SessionMember(
                identity=destination,
                display_name=destination,
                role=MemberRole.TRANSFER,
                call_state=MemberCallState.RINGING,
                is_original_member=False,
                call_sid=new_call_sid,
            )
            change.new_members.append(member)
            change.session.update(
                most_recent_participant_call_sid=new_call_sid, dial_state=DialState.ACTIVE
            )
            change.data["member"] = who(member)
        return change

    return Plan("invite", steps, conclude)


def conference_member_add(
    *,
    actor: Actor,
    session_id: str,
    destination: str | None,
    from_number: str | None = None,
    call_sid: str | None = None,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Dial `destination` into the session's conference (made one first if need be). The new
    member rings until the provider reports its answer."""
    destination = validate_destination(destination)
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _invite_plan(session, destination, from_number, call_sid),
        if_match=if_match,
    )


def _ring_plan(session: CallSession, endpoint: Endpoint, destination: str, from_number: str):
    if not session.actions.end:
        raise session_ended(session)
    if session.call_state not in (CallState.RINGING, CallState.PASSIVE):
        raise call_state_conflict(session, "ring an agent")
    provider = get_provider()

    def ring() -> str:
        return provider.dial_into_conference(
            conference_sid=session.conference_sid,
            conference_name=conference_name(session.id),
            destination=destination,
            from_number=from_number,
        )

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        change = Change(
            EventKind.MEMBER_INVITED, data={"destination": destination, "from_number": from_number}
        )
        if outcome.results:
            member = SessionMember(
                identity=destination,
                display_name=endpoint.name,
                endpoint_id=endpoint.id,
                role=MemberRole.AGENT,
                call_state=MemberCallState.RINGING,
                is_original_member=False,
                call_sid=outcome.results[0],
            )
            change.new_members.append(member)
            change.session.update(
                most_recent_participant_call_sid=member.call_sid, dial_state=DialState.ACTIVE
            )
            change.data["member"] = who(member)
        return change

    return Plan("ring", [Step(f"ring {destination}", ring)], conclude)


def session_ring_agent(
    *, actor: Actor, session_id: str, endpoint: Endpoint, from_number: str
) -> CallSession:
    """Ring `endpoint.forward_to` (the agent of the number a caller dialled) into the
    session's conference, with caller id `from_number`. The agent joins as a ringing member;
    its answer, reported by the provider, answers the call (`inbox`)."""
    destination = validate_destination(endpoint.forward_to, "ForwardTo")
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _ring_plan(session, endpoint, destination, from_number),
    )


# --- one conference member: hold, mute, remove ------------------------------------------------


def _require_call(session: CallSession, verb: str) -> None:
    """An active voice session (409 if it has ended, 400 if it is not a call)."""
    if not session.actions.end:
        raise session_ended(session)
    if session.channel not in HOLDABLE_CHANNELS:
        raise NotSupported(f"A {session.channel.lower()} session cannot {verb}")


def _member_update_plan(
    session: CallSession, actor: Actor, call_sid: str, hold: bool | None, muted: bool | None
) -> Plan | None:
    _require_call(session, "have its members held or muted")
    held_by = actor.user.id if actor.user else None
    member = member_by_call_sid(session, call_sid, "CallSid")
    own = member.call_sid == session.call_sid
    provider = get_provider()
    steps: list[Step] = []
    if hold is True:
        if member.call_state == MemberCallState.HOLD:
            raise member_already(session, member, "hold")
        if member.call_state != MemberCallState.CONNECTED:
            raise member_state_conflict(session, member, "hold")
        steps.append(
            Step(
                f"hold {call_sid}",
                partial(provider.hold, call_sid=call_sid, conference_sid=session.conference_sid),
            )
        )
    elif hold is False:
        if member.call_state != MemberCallState.HOLD:
            raise member_state_conflict(session, member, "resume")
        queue = member.hold_queue_name or session.hold_queue_name
        steps.append(
            Step(
                f"resume {call_sid}",
                partial(
                    provider.resume,
                    call_sid=call_sid,
                    queue_name=queue,
                    conference_sid=session.conference_sid,
                ),
            )
        )
    if muted is not None:
        if not member.on_call:
            raise member_state_conflict(session, member, "mute" if muted else "unmute")
        if muted and member.muted:
            raise member_already(session, member, "mute")
        if not muted and not member.muted:
            raise member_not(session, member, "unmute")
        steps.append(
            Step(
                f"{'mute' if muted else 'unmute'} {call_sid}",
                partial(
                    provider.mute,
                    conference_sid=session.conference_sid,
                    call_sid=call_sid,
                    muted=muted,
                ),
            )
        )
    if not steps:
        return None  # nothing asked: nothing done, nothing recorded

    def hold_change(session: CallSession, member: SessionMember, result) -> Change:
        if hold:
            kind = EventKind.HELD if own else EventKind.MEMBER_HELD
            change = Change(kind, data={"member": who(member)})
            queue = result.queue_name
            change.member(member, call_state=MemberCallState.HOLD, hold_queue_name=queue)
            if own:  # the session's own call held is the session held, as HoldSession does
                change.session.update(
                    call_state=CallState.HOLD,
                    held_by_user_id=held_by,
                    hold_queue_name=session.hold_queue_name or result.queue_name,
                    held_at=session.held_at or timezone.now(),
                )
            return change
        change = Change(
            EventKind.RESUMED if own else EventKind.MEMBER_RESUMED, data={"member": who(member)}
        )
        change.member(member, **MEMBER_OFF_HOLD)
        others_held = session.members.filter(call_state=MemberCallState.HOLD).exclude(pk=member.pk)
        if own and session.is_held and not others_held.exists():
            change.session.update(resumed_fields())
        return change

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        [current] = fresh(session, [member])
        changes = []
        results = list(outcome.results)
        if hold is not None and results:
            changes.append(hold_change(session, current, results.pop(0)))
        elif hold is not None:  # the hold failed: nothing else was asked of the provider
            return Change(EventKind.MEMBER_HELD if hold else EventKind.MEMBER_RESUMED)
        if muted is not None:
            kind = EventKind.MEMBER_MUTED if muted else EventKind.MEMBER_UNMUTED
            mute = Change(kind, data={"member": who(current)})
            if len(outcome.results) == len(steps):
                mute.member(current, muted=muted)
            changes.append(mute)
        first, *rest = changes
        for change in rest:
            first.merge(change)
        return first

    return Plan("update member", steps, conclude)


def conference_member_update(
    *,
    actor: Actor,
    session_id: str,
    call_sid: str | None,
    hold: bool | None = None,
    muted: bool | None = None,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Hold or resume (`hold`), mute or unmute (`muted`) the member on `call_sid`; what is None
    is left as it is. Asking for the state the member is already in is a 409. Holding the
    session's own call holds the session, as HoldSession does; any other member's hold is that
    member's alone."""
    call_sid = _required_call_sid(call_sid)
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _member_update_plan(session, actor, call_sid, hold, muted),
        if_match=if_match,
    )


def _required_call_sid(call_sid: str | None) -> str:
    call_sid = (call_sid or "").strip()
    if not call_sid:
        raise ValidationFailed.for_field("CallSid", "NotEmpty", "'CallSid' must not be empty.")
    return call_sid


def _member_remove_plan(session: CallSession, call_sid: str) -> Plan:
    _require_call(session, "have members removed")
    member = member_by_call_sid(session, call_sid, "CallSid")
    if member.call_sid == session.call_sid:
        raise ValidationFailed.for_field(
            "CallSid",
            "SessionCall",
            "'CallSid' is the session's own call: end the session instead "
            "(DELETE /sessions/{sessionId}).",
        )
    if not member.on_call:
        raise member_state_conflict(session, member, "remove")
    provider = get_provider()

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        change = Change(EventKind.MEMBER_REMOVED, data={"member": who(member)})
        if outcome.results:
            [leaving] = fresh(session, [member])
            change.member(leaving, **MEMBER_GONE)
            dial_state_after(session, change, leaving)
        return change

    step = Step(
        f"remove {call_sid}",
        partial(
            provider.remove_participant, conference_sid=session.conference_sid, call_sid=call_sid
        ),
    )
    return Plan("remove member", [step], conclude)


def conference_member_remove(
    *,
    actor: Actor,
    session_id: str,
    call_sid: str | None,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Take the member on `call_sid` out of the conference; the provider hangs up its leg.
    The session's own call is not a member one removes: ending the session does that."""
    call_sid = _required_call_sid(call_sid)
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _member_remove_plan(session, call_sid),
        if_match=if_match,
    )


# --- blind transfer ---------------------------------------------------------------------------


def _caller_id(session: CallSession, caller_id: str | None, field: str) -> str:
    """The caller ID given (E.164), or the session's own number."""
    if caller_id:
        return validate_e164(caller_id, field)
    own = session.own_number
    if not own or not E164.match(own):
        raise ValidationFailed.for_field(
            field,
            "NotEmpty",
            f"'{field}' is required: this session has no E.164 number of its own.",
        )
    return own


def _redirect_plan(session: CallSession, destination: str, caller_id: str | None) -> Plan:
    require_allowed(session, "transfer")
    if not session.call_sid:
        raise ValidationFailed.for_field(
            "SessionId", "NoCall", "This session has no call of its own to transfer."
        )
    caller_id = _caller_id(session, caller_id, "CallerId")
    provider = get_provider()

    def conclude(session: CallSession, outcome: Outcome) -> Change:
        data = {"destination": destination, "caller_id": caller_id}
        if not outcome.results:
            return Change(EventKind.REDIRECTED, data=data)
        # The call left our conference for the destination (and the conference ended with it:
        # its caller leaving ends it): for us the session is over.
        return end_change(session, kind=EventKind.REDIRECTED, **data)

    step = Step(
        f"redirect {session.call_sid} to {destination}",
        partial(
            provider.redirect,
            call_sid=session.call_sid,
            destination=destination,
            caller_id=caller_id,
        ),
    )
    return Plan("transfer", [step], conclude)


def session_redirect(
    *,
    actor: Actor,
    session_id: str,
    destination: str | None,
    caller_id: str | None = None,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """Blind transfer: the session's call leaves for `destination` (caller ID `caller_id`, or
    the session's own number). The call is no longer ours, so the session ends with it, as one
    `redirected` event; every other leg goes with the conference."""
    destination = validate_destination(destination)
    return run_action(
        actor=actor,
        session_id=session_id,
        decide=lambda session: _redirect_plan(session, destination, caller_id),
        if_match=if_match,
    )


# --- supervisor monitoring --------------------------------------------------------------------


def _agent_call_sid(session: CallSession) -> str | None:
    """The leg a coaching supervisor whispers to: the connected agent, else the connected
    member who is not the caller (an invited party taking the call)."""
    others = [
        m
        for m in session.members.filter(call_state=MemberCallState.CONNECTED)
        if m.call_sid and m.call_sid != session.call_sid and not m.is_original_member
    ]
    agents = [m for m in others if m.role == MemberRole.AGENT]
    chosen = (agents or others)[-1:] or [None]
    return chosen[0].call_sid if chosen[0] else None


def _monitor_plan(
    session: CallSession, actor: Actor, mode: str, destination: str | None
) -> Decision:
    require_allowed(session, "monitor")
    user = actor.user
    provider_mode = MonitorMode(mode.lower())
    agent = _agent_call_sid(session) if provider_mode == MonitorMode.COACH else None
    if provider_mode == MonitorMode.COACH and agent is None:
        raise InvalidState("Cannot coach: no agent is on the call")
    provider = get_provider()
    supervisor = actor.username
    if session.is_monitored:
        if session.monitored_by_id != (user.id if user else None):
            name = session.monitored_by.get_username() if session.monitored_by else "someone"
            raise already_monitored(session, name, "monitor")
        if session.monitor_mode == mode:
            return None  # already so: nothing to do, nothing recorded
        previous = session.monitor_mode

        def switched(session: CallSession, outcome: Outcome) -> Change:
            data = {"supervisor": supervisor, "mode": mode, "previous_mode": previous}
            change = Change(EventKind.MONITOR_CHANGED, data=data)
            if outcome.results:
                change.session["monitor_mode"] = mode
            return change

        step = Step(
            f"switch {session.monitor_call_sid} to {mode}",
            partial(
                provider.set_monitor_mode,
                conference_sid=session.conference_sid,
                call_sid=session.monitor_call_sid,
                mode=provider_mode,
                agent_call_sid=agent,
            ),
        )
        return Plan("monitor", [step], switched)

    destination = validate_destination(destination or (user and user.monitor_destination))
    from_number = _caller_id(session, None, "FromNumber")

    def started(session: CallSession, outcome: Outcome) -> Change:
        data = {"supervisor": supervisor, "mode": mode, "destination": destination}
        change = Change(EventKind.MONITOR_STARTED, data=data)
        if outcome.results:
            change.session.update(
                monitored_by_id=user.id if user else None,
                monitor_mode=mode,
                monitor_call_sid=outcome.results[0],
                monitor_destination=destination,
                monitor_started_at=timezone.now(),
            )
        return change

    step = Step(
        f"ring {destination} to {mode.lower()}",
        partial(
            provider.monitor,
            conference_sid=session.conference_sid,
            destination=destination,
            mode=provider_mode,
            agent_call_sid=agent,
            from_number=from_number,
        ),
    )
    return Plan("monitor", [step], started)


def _leave_plan(session: CallSession) -> Plan:
    if not session.actions.end:
        raise session_ended(session)
    if not session.is_monitored:
        raise not_monitored(session, "stop monitoring")
    provider = get_provider()
    supervisor = session.monitored_by.get_username() if session.monitored_by else ""

    def left(session: CallSession, outcome: Outcome) -> Change:
        change = Change(EventKind.MONITOR_ENDED, data={"supervisor": supervisor})
        if outcome.results:
            change.session.update(UNMONITORED)
        return change

    step = Step(
        f"hang up {session.monitor_call_sid}",
        partial(provider.hangup, call_sid=session.monitor_call_sid),
    )
    return Plan("stop monitoring", [step], left)


def session_monitor(
    *,
    actor: Actor,
    session_id: str,
    mode: str | None,
    destination: str | None = None,
    leave: bool = False,
    if_match: Collection[str] | None = None,
) -> CallSession:
    """A supervisor (`actor`) monitors the session's call in `mode` (`SessionMonitorModes`):
    rung at `destination` (default: their profile's `monitor_destination`) into the
    conference, muted (Listen), heard by the agent only (Coach) or by everyone (Barge). The
    monitoring supervisor switches mode without being rung again; another is refused (409)
    while one monitors. `leave`: hang up the supervisor's leg and stop monitoring.

    The supervisor's leg is recorded on the session, never as a member."""
    if leave:
        decide = _leave_plan
    else:
        if not mode:
            raise ValidationFailed.for_field(
                "Mode", "NotEmpty", "'Mode' must not be empty (or send Leave: true)."
            )
        decide = partial(_monitor_plan, actor=actor, mode=mode, destination=destination)
    return run_action(actor=actor, session_id=session_id, decide=decide, if_match=if_match)
