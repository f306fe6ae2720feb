"""Portal pages (under /live/ and /accounts/) and the API's description."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import views
from .account import views as account_views

urlpatterns = [
    path("", views.active_sessions, name="active_sessions"),
    path("live/counters", views.counters, name="counters"),
    path("live/events", views.session_events, name="session_events"),
    path("live/sessions/<str:session_id>", views.session_detail, name="session_detail"),
    path("live/sessions/<str:session_id>/row", views.session_row, name="session_row"),
    path("live/sessions/<str:session_id>/hold", views.session_hold, name="session_hold"),
    path("live/sessions/<str:session_id>/resume", views.session_resume, name="session_resume"),
    path("live/sessions/<str:session_id>/invite", views.session_invite, name="session_invite"),
    path("live/sessions/<str:session_id>/end", views.session_end, name="session_end"),
    path(
        "live/sessions/<str:session_id>/transfer", views.session_transfer, name="session_transfer"
    ),
    path(
        "live/sessions/<str:session_id>/members/<str:call_sid>",
        views.session_member,
        name="session_member",
    ),
    path("live/sessions/<str:session_id>/monitor", views.session_monitor, name="session_monitor"),
    path("accounts/login/", account_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/api-sessions/", account_views.api_session_list, name="api_sessions"),
    path(
        "accounts/api-sessions/<str:public_id>/revoke",
        account_views.api_session_revoke,
        name="api_session_revoke",
    ),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("openapi.json", views.openapi_json, name="openapi"),
    # The old reference page: the metadata pages replace it.
    path("docs/api", RedirectView.as_view(pattern_name="metadata", permanent=True)),
]
