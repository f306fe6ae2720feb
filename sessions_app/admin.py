from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import (
    Account,
    ApiAuthSession,
    CallSession,
    Customer,
    Endpoint,
    SessionLogEntry,
    SessionMember,
    User,
)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("Evo Voice", {"fields": ("role", "accounts")}),)
    list_display = ("username", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "accounts")
    filter_horizontal = ("accounts", "groups", "user_permissions")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "id")
    search_fields = ("name", "id")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "account", "parent", "id")
    list_filter = ("account",)
    search_fields = ("name", "id")
    list_select_related = ("account", "parent")


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "account", "phone_number")
    list_filter = ("account", "kind")
    search_fields = ("name", "phone_number")
    list_select_related = ("account",)


class SessionMemberInline(admin.TabularInline):
    model = SessionMember
    extra = 0


class SessionLogInline(admin.TabularInline):
    model = SessionLogEntry
    extra = 0
    readonly_fields = ("date", "message", "actor", "via")


@admin.register(CallSession)
class CallSessionAdmin(admin.ModelAdmin):
    list_display = ("id", "account", "channel", "direction", "call_state", "ended", "date_created")
    list_filter = ("account", "channel", "call_state", "ended")
    search_fields = ("id", "from_address", "to_address", "from_name", "call_sid")
    list_select_related = ("account",)
    inlines = [SessionMemberInline, SessionLogInline]


@admin.register(SessionMember)
class SessionMemberAdmin(admin.ModelAdmin):
    list_display = ("identity", "role", "call_state", "session")
    search_fields = ("identity", "call_sid")


@admin.register(SessionLogEntry)
class SessionLogEntryAdmin(admin.ModelAdmin):
    list_display = ("date", "message", "via", "actor", "session")
    list_filter = ("via",)


@admin.register(ApiAuthSession)
class ApiAuthSessionAdmin(admin.ModelAdmin):
    """Signed-in API clients (`ss-id` cookies): delete a row to sign that client out."""

    list_display = ("user", "created", "expires", "remember_me")
    list_select_related = ("user",)
    readonly_fields = ("key_hash", "user", "created", "expires", "remember_me")

    def has_add_permission(self, request):
        return False
