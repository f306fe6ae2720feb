"""The signed-in person's pages: the sign-in page (throttled) and the API sessions page, where
a user sees their `ss-id` sessions and revokes them (an administrator: everyone's). Thin, as
every portal view: reads through the selectors, writes through the services."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from sessions_app import selectors
from sessions_app.errors import ResourceNotFound
from sessions_app.permissions import sees_all_api_sessions
from sessions_app.services.auth import api_session_revoke as revoke

from .forms import SignInForm


class SignInView(LoginView):
    """Django's sign-in page with the throttled form: a locked-out username answers 429 with
    `Retry-After` and the sentence saying how long to wait, in place of the usual error."""

    authentication_form = SignInForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.locked_out is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.locked_out.retry_after)
        return response


@login_required
@require_GET
def api_session_list(request: HttpRequest) -> HttpResponse:
    """The user's API sessions (an administrator's page: everyone's), each with a Revoke
    button."""
    context = {
        "api_sessions": list(selectors.api_sessions_visible_to(request.user)),
        "sees_everyones": sees_all_api_sessions(request.user),
    }
    return render(request, "account/api_sessions.html", context)


@login_required
@require_POST
def api_session_revoke(request: HttpRequest, public_id: str) -> HttpResponse:
    """Revoke an API session: its token fails from the next request on. htmx gets the row
    back, marked revoked, and the outcome as a `portal-flash` event; a plain form goes back to
    the list. Another user's session is a 404, as one that does not exist."""
    try:
        session = revoke(by=request.user, public_id=public_id)
    except ResourceNotFound as error:
        raise Http404(error.message) from None
    whose = "Your" if session.user_id == request.user.pk else f"{session.user.get_username()}'s"
    done = f"{whose} API session from {session.created:%Y-%m-%d %H:%M} UTC is revoked."
    if not request.htmx:
        messages.success(request, done)
        return redirect("api_sessions")
    context = {
        "s": session,
        "revoked": True,
        "sees_everyones": sees_all_api_sessions(request.user),
    }
    response = render(request, "account/_api_session_row.html", context)
    return trigger_client_event(
        response, "portal-flash", {"message": done, "failed": False}, after="swap"
    )
