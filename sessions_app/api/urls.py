"""Routes exactly as Evo Voice documents them, each also answering with a `.json`, `.xml`,
`.csv` or `.jsonp` suffix, plus ServiceStack's predefined routes."""

from django.urls import re_path

from . import views

SUFFIX = r"(?:\.(?P<format>json|xml|csv|jsonp))?"
SESSION = r"(?P<session_id>[A-Za-z0-9_-]+)"

urlpatterns = [
    re_path(rf"^sessions/{SESSION}/hold{SUFFIX}$", views.HoldSessionView.as_view()),
    re_path(
        rf"^sessions/{SESSION}/conference/members{SUFFIX}$", views.ConferenceMembersView.as_view()
    ),
    re_path(rf"^sessions/{SESSION}{SUFFIX}$", views.SessionView.as_view()),
    re_path(rf"^portal/active-sessions{SUFFIX}$", views.ActiveSessionsView.as_view()),
    re_path(rf"^auth(?:/(?P<provider>credentials|logout))?{SUFFIX}$", views.AuthView.as_view()),
    # webhooks (issue 10)
    re_path(rf"^webhooks{SUFFIX}$", views.WebhooksView.as_view()),
    re_path(rf"^webhooks/(?P<webhook_id>[A-Za-z0-9_-]+){SUFFIX}$", views.WebhookView.as_view()),
    re_path(rf"^api/(?P<operation>[A-Za-z]+){SUFFIX}$", views.PredefinedRouteView.as_view()),
    re_path(
        r"^(?P<format>json|xml|csv)/(?:reply|oneway)/(?P<operation>[A-Za-z]+)$",
        views.PredefinedRouteView.as_view(),
    ),
    re_path(
        r"^(?:sessions|api|json|xml|csv|auth|portal/active-sessions|webhooks)(?:[/.].*)?$",
        views.UnknownRouteView.as_view(),
    ),
]
