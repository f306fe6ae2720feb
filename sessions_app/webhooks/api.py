"""The webhook operations of the API: `CreateWebhook` (`POST /webhooks`), `ListWebhooks`
(`GET /webhooks`) and `DeleteWebhook` (`DELETE /webhooks/{webhookId}`). Declared in the API's
operations registry (`sessions_app.api.operations`) like every other operation, which requires
the role Manager; the selectors and services limit a Manager to their own accounts."""

from rest_framework.request import Request
from rest_framework.response import Response

from sessions_app.api.wire import WireResponse
from sessions_app.errors import ValidationFailed
from sessions_app.wire.dto import wire_date

from . import contracts, selectors, services
from .models import WebhookSubscription


def webhook_info(webhook: WebhookSubscription, *, with_secret: bool = False) -> dict:
    """A subscription as `WebhookInfo` values; the secret itself only when asked (once, at
    creation)."""
    return {
        "Id": webhook.id,
        "AccountId": webhook.account_id,
        "AccountName": webhook.account.name,
        "Url": webhook.url,
        "EventKinds": list(webhook.event_kinds),
        "Active": webhook.active,
        "Secret": webhook.secret if with_secret else None,
        "SecretHint": webhook.secret_hint,
        "CreatedBy": webhook.created_by,
        "DateCreated": wire_date(webhook.created),
        "DisabledReason": webhook.disabled_reason or None,
        "DateDisabled": wire_date(webhook.disabled_at),
    }


def create_webhook(request: Request, values: dict) -> Response:
    """`CreateWebhook`: subscribe a URL to an account's session events; the answer is the
    only one that carries the signing secret."""
    active = values.get("Active")
    webhook = services.webhook_create(
        user=request.user,
        url=values.get("Url") or "",
        event_kinds=values.get("EventKinds") or [],
        account_id=values.get("AccountId") or None,
        active=True if active is None else active,
    )
    response = WireResponse(contracts.WEBHOOK_INFO, webhook_info(webhook, with_secret=True))
    # The secret must not stay in a cache, nor be compressed along with the request's own
    # values (portal.middleware.CompressionMiddleware).
    response["Cache-Control"] = "no-store"
    return response


def list_webhooks(request: Request, values: dict) -> Response:
    """`ListWebhooks`: the subscriptions of the accounts the user manages (or of one)."""
    webhooks = selectors.webhooks_managed_by(request.user)
    if values.get("AccountId"):
        webhooks = webhooks.filter(account_id=values["AccountId"])
    return WireResponse(
        contracts.LIST_WEBHOOKS_RESPONSE, {"Webhooks": [webhook_info(w) for w in webhooks]}
    )


def delete_webhook(request: Request, values: dict) -> Response:
    """`DeleteWebhook`: remove a subscription, its deliveries and their attempts; answers the
    subscription as it was."""
    webhook_id = values.get("WebhookId")
    if not webhook_id:
        raise ValidationFailed.for_field("WebhookId", "NotEmpty", "'WebhookId' must not be empty.")
    webhook = services.webhook_delete(user=request.user, webhook_id=webhook_id)
    return WireResponse(contracts.WEBHOOK_INFO, webhook_info(webhook))
