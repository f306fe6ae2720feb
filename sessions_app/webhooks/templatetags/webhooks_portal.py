"""Template helpers for the webhook pages and the header's link to them."""

from django import template

from sessions_app.webhooks.selectors import may_manage_webhooks

register = template.Library()


@register.filter
def manages_webhooks(user) -> bool:
    """Whether the header shows the Webhooks link: Managers and administrators."""
    return may_manage_webhooks(user)
