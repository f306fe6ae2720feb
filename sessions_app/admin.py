"""The Django admin for every model. Event and inbox rows are records of what happened:
readable, never added or edited here."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from . import services
from .account.forms import AdminSignInForm
from .models import (
    Account,
    ActionInFlight,
    ApiAuthSession,
    AuthFailure,
    CallSession,
    Customer,
    Endpoint,
    EventSubscription,
    IdempotencyKey,
    ProviderInboxEntry,
    SessionDocument,
    SessionEvent,
    SessionMember,
    User,
)

# The admin's sign-in is a door that takes a password too: throttled like the portal's.
admin.site.login_form = AdminSignInForm


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """Users with their Evo Voice role and the accounts they may see."""

    fieldsets = UserAdmin.fieldsets + (
        ("Evo Voice", {"fields": ("role", "accounts", "monitor_destination")}),
    )
    list_display = ("username", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "accounts")
    filter_horizontal = ("accounts", "groups", "user_permissions")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Accounts (tenants)."""

    list_display = ("name", "id")
    search_fields = ("name", "id")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """The customer tree; changing a parent moves the whole subtree."""

    list_display = ("name", "account", "parent", "id")
    list_filter = ("account",)
    search_fields = ("name", "id")
    list_select_related = ("account", "parent")

    def save_model(self, request, obj, form, change):
        """A changed parent moves the whole subtree (`services.customer_move`)."""
        if change and "parent" in form.changed_data:
            new_parent = obj.parent_id
            obj.parent_id = form.initial.get("parent")  # saved as it was; the move does the rest
            super().save_model(request, obj, form, change)
            services.customer_move(customer_id=obj.pk, parent_id=new_parent)
            obj.refresh_from_db()
        else:
            super().save_model(request, obj, form, change)


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    """Agents, devices and numbers that sessions are on; a number's *forward to* is where
    Twilio's incoming calls to it ring."""

    list_display = ("name", "kind", "account", "phone_number", "forward_to")
    list_filter = ("account", "kind")
    search_fields = ("name", "phone_number")
    list_select_related = ("account",)


class SessionMemberInline(admin.TabularInline):
    """A session's members, on its page."""

    model = SessionMember
    extra = 0


class SessionEventInline(admin.TabularInline):
    """A session's events, on its page, read-only."""

    model = SessionEvent
    extra = 0
    fields = readonly_fields = ("seq", "date", "kind", "data", "actor_name", "via")
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CallSession)
class CallSessionAdmin(admin.ModelAdmin):
    """Sessions, with their members and events."""

    list_display = ("id", "account", "channel", "direction", "call_state", "ended", "date_created")
    list_filter = ("account", "channel", "call_state", "ended")
    search_fields = ("id", "from_address", "to_address", "from_name", "call_sid")
    list_select_related = ("account",)
    inlines = [SessionMemberInline, SessionEventInline]


@admin.register(SessionMember)
class SessionMemberAdmin(admin.ModelAdmin):
    """Members across sessions, found by identity or call SID."""

    list_display = ("identity", "role", "call_state", "session")
    search_fields = ("identity", "call_sid")


@admin.register(SessionEvent)
class SessionEventAdmin(admin.ModelAdmin):
    """The event log is append-only: readable here, never edited."""

    list_display = ("seq", "date", "kind", "via", "actor_name", "session")
    list_filter = ("kind", "via")
    readonly_fields = ("seq", "session", "kind", "data", "actor", "actor_name", "via", "date")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SessionDocument)
class SessionDocumentAdmin(admin.ModelAdmin):
    """Each session's stored SessionInfo, readable: the database's triggers give it a new
    revision on every change and readers store it again, so nobody edits it here."""

    list_display = ("session", "revision", "rendered_revision")
    readonly_fields = ("session", "revision", "rendered_revision", "json", "etag")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProviderInboxEntry)
class ProviderInboxEntryAdmin(admin.ModelAdmin):
    """What the telephony provider reported, and what became of each report."""

    list_display = ("id", "received_at", "provider", "kind", "call_sid", "status", "note")
    list_filter = ("status", "provider", "kind")
    search_fields = ("call_sid", "event_id")

    def has_add_permission(self, request):
        return False


@admin.register(ActionInFlight)
class ActionInFlightAdmin(admin.ModelAdmin):
    """Provider calls under way; a row left by a crashed process is taken over when stale."""

    list_display = ("session", "action", "actor_name", "via", "started_at")


@admin.register(ApiAuthSession)
class ApiAuthSessionAdmin(admin.ModelAdmin):
    """Signed-in API clients (`ss-id` cookies): delete a row to sign that client out."""

    list_display = ("user", "created", "address", "last_used", "expires", "remember_me")
    list_select_related = ("user",)
    readonly_fields = (
        "public_id",
        "user",
        "created",
        "address",
        "user_agent",
        "last_used",
        "last_used_address",
        "expires",
        "remember_me",
    )
    exclude = ("key_hash", "auth_hash")

    def has_add_permission(self, request):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    """Writes sent with an `Idempotency-Key` and the answers stored for their retries; delete a
    row to let its key run again."""

    list_display = ("key", "user", "created", "completed", "response_status")
    list_select_related = ("user",)
    search_fields = ("key", "user__username")
    readonly_fields = (
        "user",
        "key",
        "fingerprint",
        "created",
        "completed",
        "response_status",
        "response_headers",
    )
    exclude = ("response_body",)

    def has_add_permission(self, request):
        return False


@admin.register(EventSubscription)
class EventSubscriptionAdmin(admin.ModelAdmin):
    """Open `/event-stream` subscriptions: delete a row to end that stream (the client then
    reconnects and resumes)."""

    list_display = ("user", "channels", "created_at", "last_pulse_at")
    list_select_related = ("user",)
    readonly_fields = ("user", "channels", "account_ids", "created_at", "last_pulse_at")

    def has_add_permission(self, request):
        return False


@admin.register(AuthFailure)
class AuthFailureAdmin(admin.ModelAdmin):
    """Failed sign-ins within the throttle's window; delete a user's rows to lift a lockout
    early."""

    list_display = ("username", "address", "via", "at")
    list_filter = ("via",)
    search_fields = ("username", "address")
    readonly_fields = ("username", "address", "via", "at")

    def has_add_permission(self, request):
        return False
