"""The project's URLs: the admin, the Evo Voice API (`sessions_app.api.urls`), the telephony
provider's callbacks (`sessions_app.callbacks.urls`) and the portal."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("manage/webhooks/", include("sessions_app.webhooks.urls")),
    path("", include("sessions_app.callbacks.urls")),
    path("", include("sessions_app.api.urls")),
    path("", include("sessions_app.urls")),
]
