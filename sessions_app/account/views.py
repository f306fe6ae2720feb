"""The signed-in person's pages. Thin, as every portal view: reads through the selectors,
writes through the services."""

from django.contrib.auth.views import LoginView

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
