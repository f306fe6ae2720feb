"""The sign-in forms of the portal and the admin, throttled like every door that takes a
password (`sessions_app.signin`)."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from sessions_app import signin
from sessions_app.clientaddress import client_address
from sessions_app.errors import SignInLockedOut
from sessions_app.models import Via


class ThrottledSignIn:
    """Django's `AuthenticationForm.clean`, but a username locked out from the client's
    address is refused before the password is checked (`locked_out` then holds the refusal,
    for the view's 429), and a refused password is counted."""

    locked_out: SignInLockedOut | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        address = client_address(self.request)
        try:
            signin.refuse_if_locked_out(username=username, address=address, via=Via.PORTAL)
        except SignInLockedOut as refused:
            self.locked_out = refused
            raise forms.ValidationError(f"{refused.message}.", code="locked_out") from None
        self.user_cache = signin.authenticate_or_count(
            self.request, username=username, password=password, address=address, via=Via.PORTAL
        )
        if self.user_cache is None:
            raise self.get_invalid_login_error()
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class SignInForm(ThrottledSignIn, AuthenticationForm):
    """The portal's sign-in form."""


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    """The Django admin's sign-in form (staff only, as Django's)."""
