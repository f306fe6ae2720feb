"""Portal pages for webhooks (under /manage/webhooks/): the list with the form that makes one,
the page that shows a new secret once, and a subscription's page with its deliveries, every
attempt and a Redeliver button each. Managers and administrators only. Thin: reads through the
selectors, writes through the services, as the API does."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from sessions_app.errors import DomainError, ResourceNotFound
from sessions_app.models import EventKind

from . import selectors, services

# Kinds a person may pick in the form (`note` only marks log lines older than typed events).
KIND_CHOICES = [kind for kind in EventKind.values if kind != EventKind.NOTE]


def _require_manager(request: HttpRequest) -> None:
    if not selectors.may_manage_webhooks(request.user):
        raise PermissionDenied("Only Managers and administrators manage webhooks.")


def _not_found_as_404(view):
    """The portal's 404 page for a webhook or delivery the user may not manage (or none)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except ResourceNotFound as error:
            raise Http404(error.message) from None

    return wrapper


def _in_words(error: DomainError) -> str:
    """A service error as the form shows it."""
    names = {"'Url'": "The URL", "'AccountId'": "The account", "'EventKinds'": "The events"}
    message = " ".join(e.message for e in error.field_errors) or error.message
    for name, words in names.items():
        message = message.replace(name, words)
    return message


def _list_context(request: HttpRequest, form: dict | None = None) -> dict:
    accounts = list(selectors.accounts_managed_by(request.user))
    return {
        "webhooks": list(selectors.webhooks_managed_by(request.user)),
        "accounts": accounts,
        "kinds": KIND_CHOICES,
        "form": form or {"account": accounts[0].id if len(accounts) == 1 else "", "kinds": []},
    }


@login_required
@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    """The webhooks of the accounts the user manages, and the form for a new one."""
    _require_manager(request)
    return render(request, "webhooks/list.html", _list_context(request))


@login_required
@require_POST
def webhook_create(request: HttpRequest) -> HttpResponse:
    """Make a subscription and show its secret, this once; or the form again, with why not."""
    _require_manager(request)
    form = {
        "account": request.POST.get("account", ""),
        "url": request.POST.get("url", ""),
        "kinds": request.POST.getlist("kinds"),
        "active": bool(request.POST.get("active")),
    }
    try:
        webhook = services.webhook_create(
            user=request.user,
            url=form["url"],
            event_kinds=form["kinds"],
            account_id=form["account"] or None,
            active=form["active"],
        )
    except DomainError as error:
        context = {**_list_context(request, form), "error": _in_words(error)}
        return render(request, "webhooks/list.html", context, status=400)
    response = render(request, "webhooks/created.html", {"webhook": webhook})
    # The secret must not stay in a cache, nor be compressed along with the form's own values
    # (portal.middleware.CompressionMiddleware).
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
@_not_found_as_404
def webhook_detail(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """A subscription, its latest deliveries and their attempts. htmx gets the deliveries."""
    _require_manager(request)
    webhook = selectors.webhook_get_for(user=request.user, webhook_id=webhook_id)
    context = {"webhook": webhook, "deliveries": selectors.deliveries_of(webhook)}
    if request.htmx and request.htmx.target == "deliveries":
        return render(request, "webhooks/_deliveries.html", context)
    return render(request, "webhooks/detail.html", context)


@login_required
@require_POST
@_not_found_as_404
def webhook_set_active(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """Enable (`active=1`) or disable a subscription, then back to its page."""
    _require_manager(request)
    active = request.POST.get("active") == "1"
    services.webhook_set_active(user=request.user, webhook_id=webhook_id, active=active)
    messages.success(request, "Webhook enabled." if active else "Webhook disabled.")
    return redirect("webhook_detail", webhook_id=webhook_id)


@login_required
@require_POST
@_not_found_as_404
def webhook_delete(request: HttpRequest, webhook_id: str) -> HttpResponse:
    """Delete a subscription with its deliveries, then back to the list."""
    _require_manager(request)
    webhook = services.webhook_delete(user=request.user, webhook_id=webhook_id)
    messages.success(request, f"Webhook to {webhook.url} deleted.")
    return redirect("webhook_list")


@login_required
@require_POST
@_not_found_as_404
def delivery_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    """Queue a delivery again. htmx gets the delivery's rows back, with the outcome as a
    `portal-flash` event (portal.js shows it); a plain form goes back to the webhook's page."""
    _require_manager(request)
    error = None
    try:
        services.delivery_redeliver(user=request.user, delivery_id=delivery_id)
    except ResourceNotFound:
        raise
    except DomainError as refused:  # the webhook is disabled
        error = refused.message
    delivery = selectors.delivery_get_for(user=request.user, delivery_id=delivery_id)
    done = f"Event #{delivery.event_id} queued for redelivery."
    if not request.htmx:
        (messages.error if error else messages.success)(request, error or done)
        return redirect("webhook_detail", webhook_id=delivery.subscription_id)
    response = render(request, "webhooks/_delivery.html", {"d": delivery})
    return trigger_client_event(
        response, "portal-flash", {"message": error or done, "failed": bool(error)}, after="swap"
    )
