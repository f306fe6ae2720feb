"""Portal pages for webhooks, under /manage/webhooks/ (the API owns /webhooks)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.webhook_list, name="webhook_list"),
    path("new", views.webhook_create, name="webhook_create"),
    path("<str:webhook_id>/", views.webhook_detail, name="webhook_detail"),
    path("<str:webhook_id>/active", views.webhook_set_active, name="webhook_set_active"),
    path("<str:webhook_id>/delete", views.webhook_delete, name="webhook_delete"),
    path(
        "deliveries/<int:delivery_id>/redeliver",
        views.delivery_redeliver,
        name="webhook_redeliver",
    ),
]
