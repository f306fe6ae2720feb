"""Settings, all from the environment (see .env.example).

With nothing set the app runs in demo mode: an embedded SQLite file, the simulated telephony
provider and DEBUG on. With DJANGO_DEBUG off, DJANGO_SECRET_KEY is required and startup fails
with a message naming it.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (see .env.example)."
        )
    # Demo mode only: a fixed key is harmless because DEBUG is on and the data is demo data.
    SECRET_KEY = "demo-only-insecure-key-not-for-production"

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_htmx",
    "sessions_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DATABASE_POOL", True):
    # Under ASGI every request runs in a fresh thread, so CONN_MAX_AGE cannot keep connections:
    # a psycopg pool per process saves a connect per request (see bench/active_sessions.py).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DATABASE_POOL_MIN", "2")),
        "max_size": int(os.environ.get("DATABASE_POOL_MAX", "10")),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo runs a server and a traffic simulator against one file: wait for locks.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

AUTH_USER_MODEL = "sessions_app.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "active_sessions"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files from the ASGI server itself (htmx comes from the django-htmx
# wheel). Finders let it serve straight from the apps and static/ without collectstatic.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start when it is missing

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# API request bodies larger than this are refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("API_MAX_BODY_BYTES", str(64 * 1024)))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "sessions_app.api.authentication.BasicAuthentication",
        "sessions_app.api.authentication.ApiCookieAuthentication",
        "sessions_app.api.authentication.PortalSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["sessions_app.api.permissions.HasUserRole"],
    "DEFAULT_RENDERER_CLASSES": [
        "sessions_app.api.renderers.ServiceStackJSONRenderer",
        "sessions_app.api.renderers.ServiceStackXMLRenderer",
        "sessions_app.api.renderers.ServiceStackCSVRenderer",
        "sessions_app.api.renderers.JSONPRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "sessions_app.api.parsers.JSONParser",
        "sessions_app.api.parsers.XMLParser",
        "sessions_app.api.parsers.CSVParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sessions_app.api.negotiation.ServiceStackNegotiation",
    "EXCEPTION_HANDLER": "sessions_app.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "URL_FORMAT_OVERRIDE": "format",
}

# Telephony provider: "simulated" is the only one shipped; a real one plugs in by dotted path.
TELEPHONY_PROVIDER = os.environ.get(
    "TELEPHONY_PROVIDER", "sessions_app.telephony.simulated.SimulatedProvider"
)
# Seconds before a simulated invited party answers (Ringing -> Connected); negative: never.
SIMULATED_ANSWER_DELAY = float(os.environ.get("SIMULATED_ANSWER_DELAY", "3"))
# Seconds every simulated provider operation takes: shows what a slow provider does.
SIMULATED_PROVIDER_LATENCY = float(os.environ.get("SIMULATED_PROVIDER_LATENCY", "0"))

# An action that finds another one's provider call in flight on the same session waits this
# long for it, then answers 409 naming it. A claim older than the second value is abandoned
# (its process died mid-call) and taken over.
SESSION_ACTION_WAIT_SECONDS = float(os.environ.get("SESSION_ACTION_WAIT_SECONDS", "10"))
SESSION_ACTION_STALE_SECONDS = float(os.environ.get("SESSION_ACTION_STALE_SECONDS", "120"))
# A provider report about a call no session has is retried for this long, then ignored.
PROVIDER_INBOX_RETRY_SECONDS = float(os.environ.get("PROVIDER_INBOX_RETRY_SECONDS", "600"))

# Live events: "postgres" (LISTEN/NOTIFY, works across processes) or "local" (one process).
EVENTS_BACKEND = os.environ.get(
    "EVENTS_BACKEND",
    "postgres" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "local",
)

# Seconds between keep-alive comments on an idle event stream (proxies drop silent ones).
LIVE_KEEPALIVE_SECONDS = float(os.environ.get("LIVE_KEEPALIVE_SECONDS", "15"))

# Portal: held calls are highlighted past these many seconds, more strongly past the second.
HOLD_WARN_SECONDS = int(os.environ.get("HOLD_WARN_SECONDS", "60"))
HOLD_ALERT_SECONDS = int(os.environ.get("HOLD_ALERT_SECONDS", "180"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
}
