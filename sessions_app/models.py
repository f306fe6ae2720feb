"""Accounts, customers, endpoints, users and live call sessions.

Enum values are the Evo Voice names exactly as the API spec lists them; they are stored as those
names so the database, the wire and the admin all read the same words.
"""

import secrets
import uuid
from dataclasses import dataclass
from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .wire.enums import (
    FlowChannels,
    SessionCallState,
    SessionDialState,
    SessionDirections,
    SessionHoldReasons,
    SessionMemberCallState,
    SessionMemberRoles,
    SessionMonitorModes,
    SessionQueueStates,
    choices_of,
)


def new_id() -> str:
    """An opaque, URL-safe, unguessable id (Evo Voice ids are opaque strings)."""
    return secrets.token_hex(12)


class Role(models.TextChoices):
    """What a user may do: each role implies the ones before it in `ROLE_ORDER`."""

    NONE = "", "No role"  # may sign in to nothing: every operation needs User or higher
    USER = "User"
    MANAGER = "Manager"
    SYSTEM_ADMINISTRATOR = "SystemAdministrator"


# The one order of roles: each implies the ones before it.
ROLE_ORDER: tuple[str, ...] = (Role.USER, Role.MANAGER, Role.SYSTEM_ADMINISTRATOR)


def role_rank(role: str) -> int:
    """0 for no role, then 1, 2, 3 in `ROLE_ORDER`."""
    return ROLE_ORDER.index(role) + 1 if role in ROLE_ORDER else 0


# The Evo Voice enums (declared once, in the wire contracts) under the names this app uses.
DialState = SessionDialState
CallState = SessionCallState
QueueState = SessionQueueStates
Channel = FlowChannels
HoldReason = SessionHoldReasons
MemberCallState = SessionMemberCallState
MemberRole = SessionMemberRoles
Direction = SessionDirections


class Via(models.TextChoices):
    """Through what a change was made, recorded on every event."""

    API = "api"
    PORTAL = "portal"
    PROVIDER = "provider"
    SYSTEM = "system"


# The one table of call-state moves. Anything not listed is refused with InvalidState.
# Disconnected is terminal: an ended session accepts no action at all.
CALL_STATE_TRANSITIONS: dict[str, frozenset[str]] = {
    CallState.RINGING: frozenset({CallState.CONNECTED, CallState.PASSIVE, CallState.DISCONNECTED}),
    CallState.CONNECTED: frozenset({CallState.HOLD, CallState.PASSIVE, CallState.DISCONNECTED}),
    CallState.HOLD: frozenset({CallState.CONNECTED, CallState.DISCONNECTED}),
    CallState.PASSIVE: frozenset({CallState.CONNECTED, CallState.HOLD, CallState.DISCONNECTED}),
    CallState.DISCONNECTED: frozenset(),
}

# A conference member can only be invited into a call that is up (talking or on hold).
INVITE_ALLOWED_FROM: frozenset[str] = frozenset({CallState.CONNECTED, CallState.HOLD})

# Only calls carry audio that can be held or conferenced.
HOLDABLE_CHANNELS: frozenset[str] = frozenset({Channel.VOICE})

MAX_CONFERENCE_MEMBERS = 10


def call_state_move_allowed(current: str, target: str) -> bool:
    """Whether `CALL_STATE_TRANSITIONS` allows `current -> target`."""
    return target in CALL_STATE_TRANSITIONS.get(current, frozenset())


@dataclass(frozen=True)
class SessionActions:
    """What may be done to a session now. The services refuse anything not allowed here and
    the portal offers exactly these buttons, so the two can never disagree."""

    hold: bool
    resume: bool
    invite: bool
    end: bool
    # Blind transfer of the session's call elsewhere (RedirectSession).
    transfer: bool = False
    # Hold, resume, mute, unmute or remove one conference member (UpdateConferenceMember,
    # RemoveConferenceMember).
    members: bool = False
    # A supervisor listening, coaching or barging in (MonitorSession).
    monitor: bool = False

    @property
    def any(self) -> bool:
        return (
            self.hold
            or self.resume
            or self.invite
            or self.end
            or self.transfer
            or self.members
            or self.monitor
        )


def allowed_actions(*, channel: str, call_state: str, ended: bool) -> SessionActions:
    """The actions a session in this state allows (see `CALL_STATE_TRANSITIONS`)."""
    active = not ended and call_state != CallState.DISCONNECTED
    audio = active and channel in HOLDABLE_CHANNELS
    return SessionActions(
        # Holding a held call is allowed: it changes nothing (or holds one more member).
        hold=audio
        and (call_state == CallState.HOLD or call_state_move_allowed(call_state, CallState.HOLD)),
        # Only a held call resumes: Ringing/Passive -> Connected is an answer, not a resume.
        resume=audio and call_state == CallState.HOLD,
        invite=audio and call_state in INVITE_ALLOWED_FROM,
        end=active,
        transfer=audio,
        members=audio,
        # A supervisor joins a call that is up, as an invitee does.
        monitor=audio and call_state in INVITE_ALLOWED_FROM,
    )


class Account(models.Model):
    """A tenant of the platform: every session, customer, endpoint belongs to one."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    name = models.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A customer of an account, in a tree (a customer may have sub-customers).

    `path` is the materialised path of ids from the top customer down to this one
    ("/top/child/this/"), so "a customer and all its sub-customers" is one indexed prefix match
    and the breadcrumb needs no recursive query.
    """

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="customers")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    name = models.CharField(max_length=200)
    path = models.CharField(max_length=1024, editable=False, db_index=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            # The path ends with the customer's own id; that it starts with its parent's path
            # is checked by a PostgreSQL constraint trigger (migration 0004), since a CHECK
            # cannot read the parent's row. `services.customer_move` keeps both true.
            models.CheckConstraint(
                condition=models.Q(
                    path__endswith=Concat(models.Value("/"), "id", models.Value("/"))
                ),
                name="customer_path_ends_with_id",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # A new customer's path follows from its parent. Moving one is `services.customer_move`,
        # which rewrites the whole subtree; a plain save never changes a path.
        if self._state.adding or not self.path:
            prefix = self.parent.path if self.parent_id else "/"
            self.path = f"{prefix}{self.id}/"
        super().save(*args, **kwargs)

    @property
    def ancestor_ids(self) -> list[str]:
        """Ids from the top customer down to this one, inclusive."""
        return [part for part in self.path.split("/") if part]


class Endpoint(models.Model):
    """What a session is on: an agent's device, a user's softphone, or a phone number."""

    class Kind(models.TextChoices):
        AGENT = "agent"
        DEVICE = "device"
        NUMBER = "number"

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="endpoints")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="endpoints"
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.AGENT)
    phone_number = models.CharField(max_length=32, blank=True)
    # For a `number` endpoint: where a call to `phone_number` rings (an E.164 number, a sip:
    # URI or a client: identity, e.g. the agent's softphone). Twilio's incoming-call webhook
    # routes by it; a number with none is not answered.
    forward_to = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person or program using the portal or the API, with one role and some accounts."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.NONE, blank=True)
    accounts = models.ManyToManyField(Account, blank=True, related_name="users")
    # Where a supervisor is rung to monitor a call (an E.164 number, a sip: URI or a client:
    # identity): the portal's Listen / Coach / Barge form starts with it.
    monitor_destination = models.CharField(max_length=200, blank=True)

    @property
    def sees_all_accounts(self) -> bool:
        return self.role == Role.SYSTEM_ADMINISTRATOR or self.is_superuser

    @property
    def evo_roles(self) -> list[str]:
        """Roles as Evo Voice reports them: each role implies the ones below it."""
        rank = len(ROLE_ORDER) if self.is_superuser else role_rank(self.role)
        return [str(role) for role in ROLE_ORDER[:rank]]


class CallSession(models.Model):
    """A live (or ended) call, chat or fax session: the Evo Voice `SessionInfo`."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sessions")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )
    endpoint = models.ForeignKey(
        Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions"
    )

    dial_state = models.CharField(
        max_length=12, choices=choices_of(DialState), default=DialState.NONE
    )
    call_state = models.CharField(
        max_length=12, choices=choices_of(CallState), default=CallState.RINGING
    )
    queue_state = models.CharField(
        max_length=12, choices=choices_of(QueueState), default=QueueState.NONE
    )
    channel = models.CharField(max_length=8, choices=choices_of(Channel), default=Channel.VOICE)
    direction = models.CharField(
        max_length=8, choices=choices_of(Direction), default=Direction.INCOMING
    )
    hold_reason = models.CharField(
        max_length=12, choices=choices_of(HoldReason), default=HoldReason.NONE
    )

    date_completed = models.DateTimeField(null=True, blank=True)
    destination = models.CharField(max_length=200, null=True, blank=True)
    to_address = models.CharField(max_length=200, null=True, blank=True)
    from_address = models.CharField(max_length=200, null=True, blank=True)
    from_name = models.CharField(max_length=200, null=True, blank=True)
    answered_by_name = models.CharField(max_length=200, null=True, blank=True)
    answered_by_id = models.CharField(max_length=64, null=True, blank=True)
    queue_member_id = models.CharField(max_length=64, null=True, blank=True)
    ended = models.BooleanField(default=False)
    outcome = models.CharField(max_length=200, null=True, blank=True)
    call_sid = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    console_data = models.TextField(null=True, blank=True)
    hold_queue_name = models.CharField(max_length=200, null=True, blank=True)
    held_by_user_id = models.CharField(max_length=64, null=True, blank=True)
    held_at = models.DateTimeField(null=True, blank=True)
    conference_sid = models.CharField(max_length=64, null=True, blank=True)
    display_name = models.CharField(max_length=200, null=True, blank=True)
    callback_number = models.CharField(max_length=64, null=True, blank=True)
    from_phone_number = models.CharField(max_length=64, null=True, blank=True)
    most_recent_participant_call_sid = models.CharField(max_length=64, null=True, blank=True)
    was_missed = models.BooleanField(default=False)
    ring_queue_id = models.CharField(max_length=64, null=True, blank=True)

    # The supervisor monitoring the call, if any (not on the wire: SessionInfo is Evo Voice's
    # contract). The supervisor's leg is not a member: it never counts as one, and members
    # stay what Evo Voice lists.
    monitored_by = models.ForeignKey(
        "User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    monitor_mode = models.CharField(
        max_length=8, choices=choices_of(SessionMonitorModes), blank=True, default=""
    )
    monitor_call_sid = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    monitor_destination = models.CharField(max_length=200, null=True, blank=True)
    monitor_started_at = models.DateTimeField(null=True, blank=True)

    date_created = models.DateTimeField(default=timezone.now, db_index=True)
    date_last_modified = models.DateTimeField(default=timezone.now)
    # Bumped by every event of the session (each changes what it reads as, its Log at least):
    # the `ETag` of its `SessionInfo`. Not on the wire.
    version = models.PositiveBigIntegerField(default=1)
    created_by = models.CharField(max_length=150, null=True, blank=True)
    last_modified_by = models.CharField(max_length=150, null=True, blank=True)

    class Meta:
        ordering = ["-date_created", "-id"]
        indexes = [
            models.Index(
                fields=["account", "-date_created"],
                name="session_active_idx",
                condition=models.Q(ended=False),
            ),
            # ListSessions' default order within the user's accounts (newest first, the id
            # breaking ties): a page is read straight off the index, ended sessions included.
            models.Index(
                fields=["account", "-date_created", "-id"], name="session_list_account_idx"
            ),
            # The same across every account (administrators).
            models.Index(fields=["-date_created", "-id"], name="session_list_idx"),
        ]
        constraints = [
            # Ended and Disconnected are one fact stated twice on the wire: never apart.
            models.CheckConstraint(
                condition=models.Q(ended=True, call_state=CallState.DISCONNECTED)
                | (models.Q(ended=False) & ~models.Q(call_state=CallState.DISCONNECTED)),
                name="session_ended_iff_disconnected",
            ),
            # An ended call is on nobody's hold, and it ended at some time.
            models.CheckConstraint(
                condition=models.Q(ended=False)
                | models.Q(
                    hold_reason=HoldReason.NONE,
                    held_by_user_id__isnull=True,
                    hold_queue_name__isnull=True,
                    held_at__isnull=True,
                    date_completed__isnull=False,
                ),
                name="session_ended_clears_hold",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.from_address or '?'} -> {self.to_address or '?'}"

    # Presenters: templates ask these rather than comparing state strings.

    @cached_property
    def actions(self) -> SessionActions:
        return allowed_actions(channel=self.channel, call_state=self.call_state, ended=self.ended)

    @property
    def is_held(self) -> bool:
        return self.call_state == CallState.HOLD

    @property
    def is_incoming(self) -> bool:
        return self.direction == Direction.INCOMING

    @property
    def in_queue(self) -> bool:
        return self.queue_state != QueueState.NONE

    @property
    def is_dialing(self) -> bool:
        return self.dial_state == DialState.ACTIVE

    @property
    def has_hold_reason(self) -> bool:
        return self.hold_reason != HoldReason.NONE

    @property
    def is_monitored(self) -> bool:
        return bool(self.monitor_mode)

    @property
    def own_number(self) -> str | None:
        """The session's own number: the one called for incoming calls, the caller for
        outgoing ones. The default caller ID of an invite."""
        return self.to_address if self.is_incoming else self.from_address


class SessionDocument(models.Model):
    """A session's `SessionInfo`, encoded in JSON once and stored beside it, so that a list of
    sessions is read without being rebuilt from 13 rows per session every time
    (`sessions_app.documents`).

    `revision` names the state of everything the document shows. PostgreSQL triggers (migration
    0010) give it a new value, from one sequence (so a value is never reused, by any session),
    in the same transaction as any change, whoever makes it (the action unit, the admin, a bulk
    insert, raw SQL): to the session's row, to any of its members or events, or to the name of
    its account, endpoint or any customer of its breadcrumb (a rename or a move of the customer
    tree). A row is made for every new session by the same triggers. `json` and `etag` are the
    document as rendered at `rendered_revision`; they count only while that equals `revision`,
    which readers check in the very query that reads them.
    Not the session's `version` (its number of events): a rename or an admin edit changes the
    document without being an event.
    """

    session = models.OneToOneField(
        CallSession, on_delete=models.CASCADE, primary_key=True, related_name="document"
    )
    revision = models.PositiveBigIntegerField(default=0)
    rendered_revision = models.PositiveBigIntegerField(null=True, blank=True)
    json = models.TextField(null=True, blank=True)  # the SessionInfo, as render_json wrote it
    etag = models.CharField(max_length=64, null=True, blank=True)  # selectors.session_etag

    def __str__(self) -> str:
        fresh = "fresh" if self.rendered_revision == self.revision else "stale"
        return f"document of {self.session_id} at revision {self.revision} ({fresh})"


class SessionMember(models.Model):
    """A party on a session's call or conference: `SessionMemberInfo`."""

    session = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="members")
    identity = models.CharField(max_length=200, null=True, blank=True)
    endpoint_id = models.CharField(max_length=64, null=True, blank=True)
    display_name = models.CharField(max_length=200, null=True, blank=True)
    is_original_member = models.BooleanField(default=False)
    avatar_url = models.CharField(max_length=500, null=True, blank=True)
    application_data = models.JSONField(default=dict, blank=True)
    call_state = models.CharField(
        max_length=12, choices=choices_of(MemberCallState), default=MemberCallState.NONE
    )
    role = models.CharField(max_length=10, choices=choices_of(MemberRole), default=MemberRole.NONE)
    call_sid = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    muted = models.BooleanField(default=False)
    # The provider's hold queue of this member's leg while it is held (not on the wire: the
    # session's `HoldQueueName` is its first held leg's). Each leg resumes from its own.
    hold_queue_name = models.CharField(max_length=200, null=True, blank=True)
    date_created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "date_created", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "call_sid"],
                condition=models.Q(call_sid__isnull=False),
                name="member_call_sid_once_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.identity}"

    @property
    def name(self) -> str:
        return self.display_name or self.identity or self.call_sid or "A member"

    @property
    def on_call(self) -> bool:
        """Still on the call (ringing, talking or held): has a leg the provider may hang up."""
        return self.call_state != MemberCallState.NONE


class EventKind(models.TextChoices):
    """What happened to a session: one event of one kind per action."""

    SESSION_STARTED = "session_started"
    ANSWERED = "answered"
    HELD = "held"
    RESUMED = "resumed"
    HOLD_REASON_CHANGED = "hold_reason_changed"
    CALL_STATE_CHANGED = "call_state_changed"
    QUEUE_STATE_CHANGED = "queue_state_changed"
    CONSOLE_DATA_CHANGED = "console_data_changed"
    MEMBER_INVITED = "member_invited"
    MEMBER_ANSWERED = "member_answered"
    MEMBER_LEFT = "member_left"
    MEMBER_HELD = "member_held"
    MEMBER_RESUMED = "member_resumed"
    MEMBER_MUTED = "member_muted"
    MEMBER_UNMUTED = "member_unmuted"
    CONFERENCE_STARTED = "conference_started"
    MEMBER_REMOVED = "member_removed"
    REDIRECTED = "redirected"
    MONITOR_STARTED = "monitor_started"
    MONITOR_CHANGED = "monitor_changed"
    MONITOR_ENDED = "monitor_ended"
    ENDED = "ended"
    PROVIDER_FAILED = "provider_failed"
    NOTE = "note"  # a log line from before events were typed (migration 0003)


class SessionEvent(models.Model):
    """One change to a session: the session's log, its live updates and (later) the event
    stream for programs all read this table.

    `seq` is global and strictly increasing in commit order (events are inserted under one
    transaction-level lock, see `services.unit.record`), so "every event after N" is exact.
    `data` holds the facts of the change: `changes` ({field: [before, after]} of the session),
    `members` ({call_sid: {field: [before, after]}}), and kind-specific values (`member`,
    `reason`, `destination`, `error`, ...). The wire `Log` is rendered from it (`eventlog`).
    """

    seq = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The actor's username when it acted (kept if the user is renamed or deleted).
    actor_name = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.SYSTEM)
    date = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["session", "seq"], name="event_session_seq_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"

    @property
    def message(self) -> str:
        """The event as a log line (`eventlog.render_message`)."""
        from .eventlog import render_message  # eventlog names this module's kinds

        return render_message(self.kind, self.data, self.actor_name, self.via)


class ActionInFlight(models.Model):
    """An action whose provider call is under way: at most one per session.

    Claimed (inserted) with the session row locked, before the provider is called with no
    transaction open; deleted when the outcome is recorded. A second action on the session
    waits for it to go, or is told what is in progress, by whom and since when.
    """

    session = models.OneToOneField(
        CallSession, on_delete=models.CASCADE, primary_key=True, related_name="action_in_flight"
    )
    action = models.CharField(max_length=40)
    actor_name = models.CharField(max_length=150)
    via = models.CharField(max_length=10, choices=Via.choices)
    started_at = models.DateTimeField(default=timezone.now)
    token = models.UUIDField(default=uuid.uuid4)

    def __str__(self) -> str:
        return f"{self.action} on {self.session_id}"


class InboxStatus(models.TextChoices):
    """Where a provider report stands."""

    PENDING = "pending"  # not applied yet: waits for its call to be known, then retried
    APPLIED = "applied"  # recorded as an event
    IGNORED = "ignored"  # nothing to do (stale, duplicate effect, or its call never appeared)


class ProviderInboxEntry(models.Model):
    """One report from the telephony provider (a call answered, a leg hung up, ...).

    Reports are stored before they are applied, de-duplicated by the provider's event id, and
    applied exactly once, in order per call, through the same action unit as user actions. A
    report about a call not (yet) known stays pending and is retried when that call commits.
    """

    provider = models.CharField(max_length=40)
    event_id = models.CharField(max_length=200)
    call_sid = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=24)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=InboxStatus.choices, default=InboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)
    session = models.ForeignKey(
        CallSession, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_event = models.ForeignKey(
        SessionEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "provider inbox entries"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="inbox_event_once_per_provider"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="inbox_pending_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.call_sid} ({self.status})"


def new_api_session_public_id() -> str:
    """A fresh public id for an API session: what the portal's URLs name it by."""
    return secrets.token_urlsafe(12)


class ApiAuthSession(models.Model):
    """A cookie session started by `POST /auth/credentials` for API clients (`ss-id`).

    Kept apart from the portal's Django session so that API clients need no CSRF token while
    the portal's own forms stay CSRF-protected: this cookie is SameSite=Strict and is only ever
    accepted by the API, never by portal views. Only a hash of the token is stored, and the
    portal names a session by its `public_id`, never by that hash. Its user sees it (where it
    signed in from, when and where it was last used) and may revoke it (delete the row) on the
    API sessions page; an administrator may revoke anyone's.
    """

    key_hash = models.CharField(primary_key=True, max_length=64)
    public_id = models.CharField(max_length=16, unique=True, default=new_api_session_public_id)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_sessions")
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    remember_me = models.BooleanField(default=False)
    # The user's `get_session_auth_hash()` at sign-in (an HMAC of their stored password hash):
    # once the password changes, it no longer matches and the token stops working, as Django's
    # own sessions do.
    auth_hash = models.CharField(max_length=128, default="")
    address = models.CharField(max_length=45, blank=True)  # signed in from ("": not told)
    user_agent = models.CharField(max_length=200, blank=True)
    # Written at most once a minute per token, not on every request (`services.auth`).
    last_used = models.DateTimeField(null=True, blank=True)
    last_used_address = models.CharField(max_length=45, blank=True)

    def __str__(self) -> str:
        return f"API session of {self.user_id} until {self.expires:%Y-%m-%d %H:%M}"

    @property
    def ended_because(self) -> str:
        """Why the token no longer works though its row is there ("" if it works, expiry
        aside): its user was deactivated, or changed their password since it signed in.
        Reads `user`, so load it with the row."""
        if not self.user.is_active:
            return "the user is deactivated"
        if not constant_time_compare(self.auth_hash, self.user.get_session_auth_hash()):
            return "the password has changed since"
        return ""


class AuthFailure(models.Model):
    """One failed sign-in: a username (one that exists or not) tried from an address, and the
    password refused, through the API (HTTP Basic, `POST /auth/credentials`) or the portal.

    The throttle (`sessions_app.signin`) counts the rows of one username and address within
    `AUTH_FAILURE_WINDOW_SECONDS`; they are in the database so that every server process sees
    the same count. Rows older than the window are deleted as new failures are recorded.
    """

    username = models.CharField(max_length=150)
    address = models.CharField(max_length=45, blank=True)  # "" if the server was not told
    via = models.CharField(max_length=10, choices=Via.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            # the count of one username and address in the window, newest first
            models.Index(fields=["username", "address", "-at"], name="auth_failure_window"),
            models.Index(fields=["at"], name="auth_failure_at"),  # the clean-up
        ]

    def __str__(self) -> str:
        return f"{self.username!r} from {self.address or 'unknown'} at {self.at:%H:%M:%S}"

    @classmethod
    def username_key(cls, username: str) -> str:
        """The username as failures are counted under it (a Basic username may be any
        length; no user's is longer than this)."""
        return username[: cls._meta.get_field("username").max_length]


class IdempotencyKey(models.Model):
    """A write sent with an `Idempotency-Key` header, and the answer it got.

    Recorded before the write runs (`completed` unset), so that a retry arriving meanwhile is
    told the first is still running, and completed with the response in the same request, so
    that a later retry gets the same answer without acting twice. The `fingerprint` of the
    request (operation, path and values) tells a retry from a different request reusing the key.
    Keys belong to their user and expire after `IDEMPOTENCY_KEY_TTL_HOURS`.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    completed = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} of user {self.user_id}"


class EventSubscription(models.Model):
    """One open Server Events stream (`/event-stream`, `sessions_app.serverevents`).

    A row, not process memory, because with several server processes the client's heartbeat
    and unregister requests may reach another process than the one holding its stream: any
    process updates `last_pulse_at` or deletes the row, and the holder notices within a second.
    The id is the client's capability for those requests (ServiceStack's subscription id),
    random and unguessable. `account_ids` is the scope resolved at connect (None: all accounts).
    """

    id = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="event_subscriptions")
    channels = models.CharField(max_length=2000)  # as asked: "*" or account ids, comma-joined
    account_ids = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_pulse_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"event subscription of {self.user_id} on {self.channels}"
