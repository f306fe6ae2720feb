"""The provider callback URLs, under PUBLIC_BASE_URL (the paths are the provider's own
constants, so the URLs it gives Twilio and the ones served are one and the same)."""

from django.urls import path

from sessions_app.telephony import twilio as twilio_provider

from . import twilio

urlpatterns = [
    path(twilio_provider.VOICE_PATH.lstrip("/"), twilio.voice, name="twilio_voice"),
    path(
        twilio_provider.CALL_STATUS_PATH.lstrip("/"), twilio.call_status, name="twilio_call_status"
    ),
    path(
        twilio_provider.CONFERENCE_STATUS_PATH.lstrip("/"),
        twilio.conference_status,
        name="twilio_conference_status",
    ),
]
