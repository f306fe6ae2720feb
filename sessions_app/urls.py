"""Portal pages and the API's human-readable description."""

from django.urls import path

from . import views

urlpatterns = [
    path("openapi.json", views.openapi_json, name="openapi"),
    path("docs/api", views.api_docs, name="api_docs"),
]
