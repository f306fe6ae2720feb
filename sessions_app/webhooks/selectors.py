"""Every read of the webhooks app, scoped at the source: a user sees the webhooks of the
accounts they manage (Managers: their accounts; administrators: all), and nothing otherwise."""

from django.db.models import Prefetch, QuerySet

from sessions_app.errors import ResourceNotFound
from sessions_app.models import Account, Role, User
from sessions_app.permissions import account_scope, has_role

from .models import WebhookAttempt, WebhookDelivery, WebhookSubscription

DELIVERIES_SHOWN = 50


def may_manage_webhooks(user: User) -> bool:
    """Managers and administrators manage their accounts' webhooks; Users do not."""
    return has_role(user, Role.MANAGER)


def accounts_managed_by(user: User) -> QuerySet[Account]:
    """The accounts whose webhooks `user` may manage."""
    if not may_manage_webhooks(user):
        return Account.objects.none()
    return Account.objects.filter(account_scope(user, "id"))


def webhooks_managed_by(user: User) -> QuerySet[WebhookSubscription]:
    """The subscriptions `user` may see and change, with their account loaded."""
    if not may_manage_webhooks(user):
        return WebhookSubscription.objects.none()
    return WebhookSubscription.objects.filter(account_scope(user)).select_related("account")


def webhook_get_for(*, user: User, webhook_id: str) -> WebhookSubscription:
    """One subscription `user` manages, or ResourceNotFound (also for another account's)."""
    webhook = webhooks_managed_by(user).filter(pk=webhook_id).first()
    if webhook is None:
        raise ResourceNotFound(f"Webhook '{webhook_id}' does not exist")
    return webhook


def deliveries_of(webhook: WebhookSubscription, limit: int = DELIVERIES_SHOWN) -> list:
    """The subscription's latest deliveries, newest event first, each with its attempts
    (`attempt_log`) in order: two queries."""
    return list(
        WebhookDelivery.objects.filter(subscription=webhook)
        .order_by("-event_id")
        .prefetch_related(_attempts_in_order())[:limit]
    )


def _attempts_in_order() -> Prefetch:
    return Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("started", "id"))


def delivery_get_for(*, user: User, delivery_id: int) -> WebhookDelivery:
    """One delivery of a subscription `user` manages, with its subscription and attempts, or
    ResourceNotFound."""
    delivery = (
        WebhookDelivery.objects.filter(subscription__in=webhooks_managed_by(user), pk=delivery_id)
        .select_related("subscription")
        .prefetch_related(_attempts_in_order())
        .first()
    )
    if delivery is None:
        raise ResourceNotFound(f"Delivery '{delivery_id}' does not exist")
    return delivery
