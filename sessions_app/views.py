"""Portal pages and HTMX fragments. Thin: read through selectors and filters, write through
the same services as the API, render the page or, for htmx, the fragment it asked for."""

import asyncio
import logging
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from . import events, rows, selectors, services
from .api.openapi import build_openapi
from .errors import (
    DomainError,
    SessionEnded,
    SessionNotFound,
    TelephonyConflict,
    TelephonyFailed,
    TelephonyRejected,
)
from .filters import SessionFilters, session_counters
from .models import CallState, Channel, Direction, HoldReason, Role, Via
from .permissions import account_ids_visible_to, has_role

logger = logging.getLogger(__name__)


def _require_role(request: HttpRequest) -> None:
    if not has_role(request.user, Role.USER):
        raise PermissionDenied("Your user has no role that may see live calls.")


def _actor(request: HttpRequest) -> services.Actor:
    return services.Actor(user=request.user, via=Via.PORTAL)


def friendly(error: DomainError) -> str:
    """A service error in words a person understands."""
    if isinstance(error, SessionEnded):
        return "That call has already ended."
    if isinstance(error, SessionNotFound):
        return "That call is no longer available."
    if isinstance(error, TelephonyFailed | TelephonyConflict | TelephonyRejected):
        return f"The phone system could not do that. {error.message.split(': ', 1)[-1]}."
    if error.field_errors:
        return " ".join(
            e.message.replace("'FromNumber'", "Caller ID").replace("'Destination'", "Destination")
            for e in error.field_errors
        )
    return error.message.replace("Cannot", "Can't").rstrip(".") + "."


def _page_context(request: HttpRequest, filters: SessionFilters, accounts=None) -> dict:
    """The sessions region's context; `accounts`: those the user may see, if read already."""
    show_account = None if accounts is None else rows.shows_account(request.user, accounts)
    session_rows = rows.session_rows(request, filters.apply(request.user), filters, show_account)
    return {
        "filters": filters,
        "rows": session_rows,
        "counters": session_rows.counters,
        "hold_warn": settings.HOLD_WARN_SECONDS,
        "hold_alert": settings.HOLD_ALERT_SECONDS,
        "show_account": session_rows.show_account,
    }


@login_required
@require_GET
def active_sessions(request: HttpRequest) -> HttpResponse:
    """The home page: counters, filters and the live table. htmx gets the region only."""
    _require_role(request)
    filters, problems = SessionFilters.from_query(request.GET)
    if request.htmx and request.htmx.target == "sessions-region":
        context = _page_context(request, filters)
        return context["rows"].splice(render(request, "portal/_sessions_region.html", context))
    for problem in problems:
        messages.warning(request, problem)
    accounts, customers = selectors.filter_choices_for(request.user)
    context = _page_context(request, filters, accounts)
    context.update(
        accounts=accounts,
        customers=customers,
        states=[state for state in CallState if state != CallState.DISCONNECTED],
        channels=Channel.values(),
        directions=Direction.values(),
    )
    return context["rows"].splice(render(request, "portal/active_sessions.html", context))


@login_required
@require_GET
def counters(request: HttpRequest) -> HttpResponse:
    """The counters strip alone, for the page's current filters (polled as a fallback)."""
    _require_role(request)
    filters, _ = SessionFilters.from_query(request.GET)
    context = {"counters": session_counters(filters.apply(request.user)), "filters": filters}
    return render(request, "portal/_counters.html", context)


def _detail_context(request: HttpRequest, session_id: str) -> dict | None:
    """One session of the user's, ended or not, with its members and log, for its detail
    view; None if it is not theirs."""
    try:
        session = selectors.session_get_for(user=request.user, session_id=session_id)
    except SessionNotFound:
        return None
    selectors.attach_holder_names([session])
    # Managers supervise: the monitoring controls (Listen, Coach, Barge) are theirs.
    supervisor = has_role(request.user, Role.MANAGER)
    return {"s": session, "hold_reasons": rows.HOLD_REASONS, "supervisor": supervisor}


@login_required
@require_GET
def session_row(request: HttpRequest, session_id: str) -> HttpResponse:
    """One table row, for the page's current filters (the query string). Empty once the session
    has ended or stopped matching, so swapping it in removes the row."""
    _require_role(request)
    filters, _ = SessionFilters.from_query(request.GET)
    if filters.active and not filters.apply(request.user).filter(pk=session_id).exists():
        return HttpResponse("")
    return HttpResponse(rows.session_row(request, session_id, filters) or "")


@login_required
@require_GET
def session_detail(request: HttpRequest, session_id: str) -> HttpResponse:
    """One session's page: every field, its members and its log. htmx gets the detail
    fragment only."""
    _require_role(request)
    context = _detail_context(request, session_id)
    if context is None:
        raise Http404("No such call")
    if request.htmx and request.htmx.target == "session-detail":
        return render(request, "portal/_session_detail.html", context)
    return render(request, "portal/session_detail.html", context)


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next") or reverse("active_sessions")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("active_sessions")
    return target


def _act(request: HttpRequest, session_id: str, action, done: str) -> HttpResponse:
    """Run a service action; answer the updated row (htmx) or redirect back (plain form)."""
    _require_role(request)
    error = None
    try:
        action(_actor(request))
    except DomainError as exc:
        error = friendly(exc)
    if not request.htmx:
        (messages.error if error else messages.success)(request, error or done)
        return redirect(_back(request))
    if request.htmx.target == "session-detail":
        context = _detail_context(request, session_id)
        response = render(request, "portal/_session_detail.html", context) if context else None
    else:
        # The row keeps following the filters of the page it is on (its `next`).
        filters, _ = SessionFilters.from_query(QueryDict(urlsplit(_back(request)).query))
        row = rows.session_row(request, session_id, filters)
        response = HttpResponse(row) if row is not None else None
    # Ended or gone: an empty answer swaps the row away.
    response = response or HttpResponse("")
    # The message travels as an event; portal.js shows it in the polite #flash region.
    # After the swap, so that htmx dispatches it on <body> if the form that asked is gone (a
    # table redraw meanwhile). Not `error`: htmx reads a truthy detail.error as a failure.
    return trigger_client_event(
        response, "portal-flash", {"message": error or done, "failed": bool(error)}, after="swap"
    )


@login_required
@require_POST
def session_hold(request: HttpRequest, session_id: str) -> HttpResponse:
    """Hold the session's call with the reason chosen (an unknown one is no reason)."""
    reason = request.POST.get("reason") or HoldReason.NONE
    if reason not in HoldReason.values():
        reason = HoldReason.NONE
    return _act(
        request,
        session_id,
        lambda actor: services.session_hold(actor=actor, session_id=session_id, reason=reason),
        "Call put on hold.",
    )


@login_required
@require_POST
def session_resume(request: HttpRequest, session_id: str) -> HttpResponse:
    """Take the session's call off hold."""
    return _act(
        request,
        session_id,
        lambda actor: services.session_resume(actor=actor, session_id=session_id),
        "Call resumed.",
    )


@login_required
@require_POST
def session_invite(request: HttpRequest, session_id: str) -> HttpResponse:
    """Dial a destination into the session's conference, with the caller ID given or the
    session's own number."""
    destination = request.POST.get("destination", "")
    from_number = request.POST.get("from_number", "").strip() or None
    return _act(
        request,
        session_id,
        lambda actor: services.conference_member_add(
            actor=actor, session_id=session_id, destination=destination, from_number=from_number
        ),
        f"Inviting {destination.strip()}: ringing.",
    )


@login_required
@require_POST
def session_end(request: HttpRequest, session_id: str) -> HttpResponse:
    """End the session's call (every leg)."""
    return _act(
        request,
        session_id,
        lambda actor: services.session_end(actor=actor, session_id=session_id),
        "Call ended.",
    )


@login_required
@require_POST
def session_transfer(request: HttpRequest, session_id: str) -> HttpResponse:
    """Blind-transfer the session's call to the destination, with the caller ID given or the
    session's own number; the session ends."""
    destination = request.POST.get("destination", "")
    caller_id = request.POST.get("caller_id", "").strip() or None
    return _act(
        request,
        session_id,
        lambda actor: services.session_redirect(
            actor=actor, session_id=session_id, destination=destination, caller_id=caller_id
        ),
        f"Call transferred to {destination.strip()}.",
    )


_MEMBER_ACTIONS = {
    "hold": ({"hold": True}, "Member put on hold."),
    "resume": ({"hold": False}, "Member taken off hold."),
    "mute": ({"muted": True}, "Member muted."),
    "unmute": ({"muted": False}, "Member unmuted."),
}


@login_required
@require_POST
def session_member(request: HttpRequest, session_id: str, call_sid: str) -> HttpResponse:
    """Hold, resume, mute, unmute (`action`) or remove one conference member."""
    action = request.POST.get("action", "")
    if action == "remove":
        return _act(
            request,
            session_id,
            lambda actor: services.conference_member_remove(
                actor=actor, session_id=session_id, call_sid=call_sid
            ),
            "Member removed.",
        )
    change, done = _MEMBER_ACTIONS.get(action, ({}, "Nothing to do."))
    return _act(
        request,
        session_id,
        lambda actor: services.conference_member_update(
            actor=actor, session_id=session_id, call_sid=call_sid, **change
        ),
        done,
    )


@login_required
@require_POST
def session_monitor(request: HttpRequest, session_id: str) -> HttpResponse:
    """Supervisors: listen, coach or barge in (`mode`) at the destination given, or leave."""
    if not has_role(request.user, Role.MANAGER):
        raise PermissionDenied("Only supervisors (Managers) may monitor calls.")
    mode = request.POST.get("mode", "")
    leave = mode == "Leave"
    destination = request.POST.get("destination", "").strip() or None
    done = "Stopped monitoring." if leave else f"{mode}: ringing {destination or 'you'}."
    return _act(
        request,
        session_id,
        lambda actor: services.session_monitor(
            actor=actor,
            session_id=session_id,
            mode=None if leave else mode,
            destination=destination,
            leave=leave,
        ),
        done,
    )


@require_GET
async def session_events(request: HttpRequest) -> HttpResponse:
    """Server-sent events: `s-<id>` when a session changes, `sessions-<kind>` for lists.

    No polling: the stream waits on an in-process queue fed by the process's one LISTEN
    connection (or the local channel). Only events of accounts the user may see are sent.
    When the server starts shutting down the stream ends by itself, so the server has nothing
    to cancel; the page's EventSource reconnects (to a new server, or once it is back).
    """
    user = await request.auser()
    if not await sync_to_async(has_role)(user, Role.USER):
        return HttpResponse("Sign in to receive live updates.", status=403)
    visible = await sync_to_async(_visible_account_ids)(user)
    listening = await sync_to_async(events.ensure_listener)()
    # The stream may stay open for hours: give this request's database connection back now
    # rather than pinning one per open page (the stream itself never touches the database).
    await sync_to_async(_release_connection)()
    if not listening:
        return HttpResponse("Live updates are unavailable right now.", status=503)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue(maxsize=500)

    def enqueue(event):
        if visible is None or event.account_id in visible:
            loop.call_soon_threadsafe(_offer, queue, event)

    unsubscribe = events.subscribe(enqueue)
    forget = events.on_close(lambda: loop.call_soon_threadsafe(_end, queue))
    keepalive = settings.LIVE_KEEPALIVE_SECONDS

    async def stream():
        try:
            yield "retry: 2000\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=keepalive)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if event is None:  # the server is shutting down
                    return
                yield f"event: s-{event.session_id}\ndata: {event.kind}\n\n"
                yield f"event: sessions-{event.kind}\ndata: {event.session_id}\n\n"
        finally:
            unsubscribe()
            forget()

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


def _release_connection() -> None:
    connection.close()  # the connection of the thread this runs in


def _offer(queue: asyncio.Queue, event) -> None:
    try:
        queue.put_nowait(event)
    except asyncio.QueueFull:  # a stalled client: it resynchronises when it reconnects
        pass


def _end(queue: asyncio.Queue) -> None:
    """End the stream reading `queue` after the events already in it (a full queue loses its
    oldest: the page resynchronises when it reconnects)."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(None)


def _visible_account_ids(user) -> set[str] | None:
    ids = account_ids_visible_to(user)
    return None if ids is None else set(ids)


def openapi_json(request: HttpRequest) -> JsonResponse:
    """The OpenAPI description of the API."""
    return JsonResponse(build_openapi())
