"""Routes exactly as Evo Voice documents them, each also answering with a `.json`, `.xml`,
`.csv` or `.jsonp` suffix, plus ServiceStack's predefined routes."""

from django.urls import re_path

from . import server_events, views

SUFFIX = r"(?:\.(?P<format>json|xml|csv|jsonp))?"
SESSION = r"(?P<session_id>[A-Za-z0-9_-]+)"

urlpatterns = [
    # Server Events' GetEventSubscribers, as the client calls it: before the predefined routes
    re_path(r"^(?:api|json/reply)/GetEventSubscribers$", server_events.SubscribersView.as_view()),
    re_path(rf"^sessions/{SESSION}/hold{SUFFIX}$", views.HoldSessionView.as_view()),
    re_path(
        rf"^sessions/{SESSION}/conference/members{SUFFIX}$", views.ConferenceMembersView.as_view()
    ),
    re_path(rf"^sessions/{SESSION}{SUFFIX}$", views.SessionView.as_view()),
    re_path(rf"^sessions{SUFFIX}$", views.SessionsView.as_view()),
    re_path(rf"^portal/active-sessions{SUFFIX}$", views.ActiveSessionsView.as_view()),
    re_path(rf"^auth(?:/(?P<provider>credentials|logout))?{SUFFIX}$", views.AuthView.as_view()),
    # Webhooks
    re_path(rf"^webhooks{SUFFIX}$", views.WebhooksView.as_view()),
    re_path(rf"^webhooks/(?P<webhook_id>[A-Za-z0-9_-]+){SUFFIX}$", views.WebhookView.as_view()),
    # Auto-batched requests: a JSON array of one operation's requests
    re_path(r"^(?:api|json/reply)/(?P<operation>[A-Za-z]+)\[\]$", views.BatchView.as_view()),
    re_path(rf"^api/(?P<operation>[A-Za-z]+){SUFFIX}$", views.PredefinedRouteView.as_view()),
    re_path(
        r"^(?P<format>json|xml|csv)/(?:reply|oneway)/(?P<operation>[A-Za-z]+)$",
        views.PredefinedRouteView.as_view(),
    ),
    # Server Events (`api/server_events.py`), at ServiceStack's paths
    re_path(r"^event-stream$", server_events.event_stream, name="event_stream"),
    re_path(r"^event-heartbeat$", server_events.HeartbeatView.as_view()),
    re_path(r"^event-unregister$", server_events.UnregisterView.as_view()),
    re_path(
        r"^event-subscribers(?:/(?P<subscription_id>[A-Za-z0-9_-]+))?$",
        server_events.SubscribersView.as_view(),
    ),
    # [\s\S], not `.`: a path with a newline in it (`%0A`) is an API 404 too, not the portal's.
    re_path(
        r"^(?:sessions|api|json|xml|csv|auth|portal/active-sessions|webhooks)(?:[/.][\s\S]*)?$",
        views.UnknownRouteView.as_view(),
    ),
]
