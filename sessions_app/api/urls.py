"""The API's URLs: every documented route of the operations registry (each also answering with
a `.json`, `.xml`, `.csv` or `.jsonp` suffix), ServiceStack's predefined routes, its metadata
pages and native types, and the Server Events paths."""

from django.urls import re_path

from . import metadata, native_types, server_events, views
from .operations import Route, routes_by_path

SUFFIX = r"(?:\.(?P<format>json|xml|csv|jsv|jsonp))?"


def _documented_routes() -> list:
    """One view per route path, answering the verbs the registry declares on it."""
    patterns = []
    for path, operations in routes_by_path().items():
        methods = {verb.lower(): operation for verb, operation in operations.items()}
        name = f"{next(iter(operations.values())).name}RouteView"
        view = type(name, (views.OperationView,), {"methods": methods})
        patterns.append(re_path(Route(path, tuple(operations)).regex(SUFFIX), view.as_view()))
    return patterns


urlpatterns = [
    # Server Events' GetEventSubscribers, as the client calls it: before the predefined routes
    re_path(r"^(?:api|json/reply)/GetEventSubscribers$", server_events.SubscribersView.as_view()),
    *_documented_routes(),
    # Auto-batched requests: a JSON array of one operation's requests
    re_path(r"^(?:api|json/reply)/(?P<operation>[A-Za-z]+)\[\]$", views.BatchView.as_view()),
    re_path(rf"^api/(?P<operation>[A-Za-z]+){SUFFIX}$", views.PredefinedRouteView.as_view()),
    re_path(
        r"^(?P<format>json|xml|csv|jsv)/(?:reply|oneway)/(?P<operation>[A-Za-z]+)$",
        views.PredefinedRouteView.as_view(),
    ),
    # Metadata pages and Add ServiceStack Reference, from the operations registry
    re_path(r"^metadata$", metadata.metadata_index, name="metadata"),
    re_path(
        r"^(?P<format>json|xml|csv|jsv)/metadata$",
        metadata.operation_metadata,
        name="operation_metadata",
    ),
    re_path(r"^types/?$", native_types.types_index, name="native_types"),
    re_path(r"^types/metadata$", native_types.types_metadata, name="types_metadata"),
    re_path(r"^types/(?P<language>[a-z.]+)$", native_types.types_source, name="types_source"),
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
        r"^(?:sessions|api|json|xml|csv|jsv|auth|portal/active-sessions|webhooks|types)(?:[/.][\s\S]*)?$",
        views.UnknownRouteView.as_view(),
    ),
]
