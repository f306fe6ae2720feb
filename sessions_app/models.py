"""Accounts, customers, endpoints, users and live call sessions.

Enum values are the Evo Voice names exactly as the API spec lists them; they are stored as those
names so the database, the wire and the admin all read the same words.
"""

import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


def new_id() -> str:
    """An opaque, URL-safe, unguessable id (Evo Voice ids are opaque strings)."""
    return secrets.token_hex(12)


class Role(models.TextChoices):
    NONE = "", "No role"  # may sign in to nothing: every operation needs User or higher
    USER = "User"
    MANAGER = "Manager"
    SYSTEM_ADMINISTRATOR = "SystemAdministrator"


class DialState(models.TextChoices):
    NONE = "None"
    ACTIVE = "Active"


class CallState(models.TextChoices):
    DISCONNECTED = "Disconnected"
    RINGING = "Ringing"
    CONNECTED = "Connected"
    HOLD = "Hold"
    PASSIVE = "Passive"


class QueueState(models.TextChoices):
    NONE = "None"
    QUEUED = "Queued"
    RINGING = "Ringing"
    CONNECTED = "Connected"
    HOLD = "Hold"
    DISCONNECTED = "Disconnected"


class Channel(models.TextChoices):
    VOICE = "Voice"
    CHAT = "Chat"
    FAX = "Fax"


class HoldReason(models.TextChoices):
    NONE = "None"
    TRANSFERRING = "Transferring"


class MemberCallState(models.TextChoices):
    NONE = "None"
    RINGING = "Ringing"
    CONNECTED = "Connected"
    HOLD = "Hold"


class MemberRole(models.TextChoices):
    NONE = "None"
    CALLER = "Caller"
    AGENT = "Agent"
    TRANSFER = "Transfer"


class Direction(models.TextChoices):
    INCOMING = "Incoming"
    OUTGOING = "Outgoing"


class Via(models.TextChoices):
    """Through what a change was made, recorded on every log entry."""

    API = "api"
    PORTAL = "portal"
    PROVIDER = "provider"
    SYSTEM = "system"


# The one table of call-state moves. Anything not listed is refused with InvalidTransition.
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


def call_state_move_allowed(current: str, target: str) -> bool:
    return target in CALL_STATE_TRANSITIONS.get(current, frozenset())


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

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person or program using the portal or the API, with one role and some accounts."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.NONE, blank=True)
    accounts = models.ManyToManyField(Account, blank=True, related_name="users")

    @property
    def sees_all_accounts(self) -> bool:
        return self.role == Role.SYSTEM_ADMINISTRATOR or self.is_superuser

    @property
    def evo_roles(self) -> list[str]:
        """Roles as Evo Voice reports them: each role implies the ones below it."""
        order = [Role.USER, Role.MANAGER, Role.SYSTEM_ADMINISTRATOR]
        if self.is_superuser:
            return [str(r) for r in order]
        if self.role not in order:
            return []
        return [str(r) for r in order[: order.index(Role(self.role)) + 1]]


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

    dial_state = models.CharField(max_length=12, choices=DialState.choices, default=DialState.NONE)
    call_state = models.CharField(
        max_length=12, choices=CallState.choices, default=CallState.RINGING
    )
    queue_state = models.CharField(
        max_length=12, choices=QueueState.choices, default=QueueState.NONE
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.VOICE)
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.INCOMING
    )
    hold_reason = models.CharField(
        max_length=12, choices=HoldReason.choices, default=HoldReason.NONE
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

    date_created = models.DateTimeField(default=timezone.now, db_index=True)
    date_last_modified = models.DateTimeField(default=timezone.now)
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
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.from_address or '?'} -> {self.to_address or '?'}"


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
        max_length=12, choices=MemberCallState.choices, default=MemberCallState.NONE
    )
    role = models.CharField(max_length=10, choices=MemberRole.choices, default=MemberRole.NONE)
    call_sid = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    muted = models.BooleanField(default=False)
    date_created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "date_created", "id"]

    def __str__(self) -> str:
        return f"{self.role} {self.identity}"


class SessionLogEntry(models.Model):
    """One line of a session's audit log: `SessionLogInfo`, plus who did it and through what."""

    session = models.ForeignKey(CallSession, on_delete=models.CASCADE, related_name="log")
    date = models.DateTimeField(default=timezone.now)
    message = models.TextField()
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.SYSTEM)

    class Meta:
        ordering = ["session", "date", "id"]
        verbose_name_plural = "session log entries"

    def __str__(self) -> str:
        return self.message


class ApiAuthSession(models.Model):
    """A cookie session started by `POST /auth/credentials` for API clients (`ss-id`).

    Kept apart from the portal's Django session so that API clients need no CSRF token while
    the portal's own forms stay CSRF-protected: this cookie is SameSite=Strict and is only ever
    accepted by the API, never by portal views. Only a hash of the token is stored.
    """

    key_hash = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_sessions")
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField()
    remember_me = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"API session of {self.user_id} until {self.expires:%Y-%m-%d %H:%M}"
