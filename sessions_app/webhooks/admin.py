"""The Django admin for webhooks: read-only, as every change goes through the services (the
portal's webhook pages make, change and delete them). The secret is never shown here."""

from django.contrib import admin

from .models import WebhookAttempt, WebhookDelivery, WebhookSubscription


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(_ReadOnly):
    """Subscriptions, without their secrets."""

    list_display = ("url", "account", "active", "created", "created_by", "cursor_seq")
    list_filter = ("active", "account")
    exclude = ("secret",)
    readonly_fields = ("secret_hint",)
    list_select_related = ("account",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    """Deliveries: one event for one subscription."""

    list_display = ("event_id", "kind", "subscription", "status", "attempts", "next_attempt_at")
    list_filter = ("status",)
    raw_id_fields = ("subscription", "event", "session")


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(_ReadOnly):
    """Every HTTP request of a delivery."""

    list_display = ("delivery", "started", "response_status", "error", "duration_ms")
    raw_id_fields = ("delivery",)
