"""Settings, all from the environment (README's Configuration, .env.example).

Every variable is read through django-environ, so a malformed value stops the start with an
ImproperlyConfigured that names the variable and what it expected. The settings fail closed:
DEBUG is off unless DJANGO_DEBUG asks for it, and with it off DJANGO_SECRET_KEY and
DJANGO_ALLOWED_HOSTS must be set. `make run` asks for the demo (DJANGO_DEBUG=1): an embedded
SQLite file, the simulated telephony provider, a fixed key. Importing this module only reads:
it creates no file or directory.
"""

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


class Env(environ.Env):
    """django-environ's reader, stricter where it would let a typo through.

    - A value that cannot be cast is an ImproperlyConfigured naming the variable, the value and
      what was expected, not a bare ValueError from deep inside the cast.
    - A boolean is one of the known words; django-environ reads any other word as false, so
      `DATABASE_POOL=ture` would silently turn the pool off.
    - A number is what `float()` accepts; django-environ strips every other character first,
      so `1e3` would read as 13.
    - An empty value counts as unset (the default applies), as `DJANGO_SECRET_KEY=` copied from
      .env.example means.
    """

    BOOLEAN_FALSE_STRINGS = ("false", "off", "no", "n", "0")
    EXPECTED = {
        bool: "a boolean (1/0, true/false, yes/no, on/off)",
        int: "an integer",
        float: "a number",
    }

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        if self.ENVIRON.get(var) == "" and default is not self.NOTSET:
            return default
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ValueError:
            expected = self.EXPECTED.get(cast, "a valid value") if cast else "a valid value"
            raise ImproperlyConfigured(
                f"{var} must be {expected}, not {self.ENVIRON.get(var)!r}."
            ) from None

    @classmethod
    def parse_value(cls, value, cast):
        if cast is bool and isinstance(value, str):
            word = value.strip().lower()
            if word not in cls.BOOLEAN_TRUE_STRINGS + cls.BOOLEAN_FALSE_STRINGS:
                raise ValueError(value)
            return word in cls.BOOLEAN_TRUE_STRINGS
        if cast is float and isinstance(value, str):
            return float(value)
        return super().parse_value(value, cast)

    def db_url(self, var="DATABASE_URL", default=environ.Env.NOTSET, engine=None) -> dict:
        """The library's parse of a database URL; one it cannot read (a port that is not a
        number, say) names the variable, and never echoes the URL, which may hold a password."""
        try:
            return super().db_url(var, default=default, engine=engine)
        except ValueError:
            raise ImproperlyConfigured(f"{var} is not a database URL it can read.") from None

    def choice(self, var: str, default: str, choices: tuple[str, ...]) -> str:
        """A string that must be one of `choices`, in any case; returns the choice as spelt."""
        value = self.str(var, default=default)
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        raise ImproperlyConfigured(f"{var} must be one of {', '.join(choices)}, not {value!r}.")


env = Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

if DEBUG:
    # Demo mode only: a fixed key is harmless because DEBUG is on and the data is demo data.
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="demo-only-insecure-key-not-for-production")
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS",
        cast=str.strip,
        default=["127.0.0.1", "localhost", "[::1]", "testserver"],
    )
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (see .env.example); "
            "DJANGO_DEBUG=1 runs the demo."
        )
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", cast=str.strip, default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off (comma-separated)."
        )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", cast=str.strip, default=[])

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
    "sessions_app.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.CompressionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Innermost, and synchronous only: Django then runs the whole chain in one thread hop
    # per request under ASGI (see portal/middleware.py).
    "portal.middleware.ContentSecurityPolicyMiddleware",
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

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
database_engine = DATABASES["default"].get("ENGINE", "")  # lower case: not a setting
if database_engine not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
    # django-environ only warns about a scheme it does not know.
    raise ImproperlyConfigured(
        "DATABASE_URL must be a postgres://user:password@host:port/name or sqlite:///path URL."
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
if database_engine == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", default=True):
    # Under ASGI every request runs in a fresh thread, so CONN_MAX_AGE cannot keep connections:
    # a psycopg pool per process saves a connect per request (see bench/active_sessions.py).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=10),
    }
if database_engine == "django.db.backends.sqlite3":
    # The demo serves requests and runs the traffic simulator in one process, on one file.
    # SQLite ignores select_for_update, so an action's transaction reads first and asks for the
    # write lock midway; when another connection is writing, SQLite refuses that upgrade at once
    # with "database is locked" (waiting could deadlock), whatever the timeout. So:
    # - IMMEDIATE: every transaction takes the write lock at BEGIN, where writers queue for up
    #   to `timeout` seconds instead of failing midway;
    # - WAL: readers (pages, the event stream) go on while one writer writes;
    # - synchronous=NORMAL: with WAL, a power cut can lose the last commits but never corrupts
    #   the file, and commits need no fsync each.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE",
        timeout=20,
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )

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
# Filled by `manage.py collectstatic` (`make run` runs it; so must a deployment). Until then
# WhiteNoise serves through the finders; with DEBUG off it warns at start that the directory is
# missing, a reminder to collect (with DEBUG on, and in the tests, it looks files up per request
# and does not look at the directory).
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves static files from the ASGI server itself (htmx comes from the django-htmx
# wheel). Finders let it serve straight from the apps and static/ without collectstatic.
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# API request bodies larger than this are refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=64 * 1024)

# HTTPS. Behind a proxy that terminates TLS, Django knows a request came over HTTPS only from a
# header the proxy sets (and strips from what clients send): DJANGO_SECURE_PROXY_SSL_HEADER
# names it, as `X-Forwarded-Proto` (meaning "https") or `Name=value`. The API's `ss-id` cookies
# are Secure exactly when the request came over HTTPS. HSTS is off unless asked for: a browser
# that has seen it refuses plain HTTP to the host for that long.
_ssl_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
if _ssl_header:
    _name, _, _value = _ssl_header.partition("=")
    if not _name.strip() or any(c in _name.strip() for c in " :"):
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must be a header name (X-Forwarded-Proto) or "
            f"Name=value, not {_ssl_header!r}."
        )
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _name.strip().upper().replace("-", "_"),
        _value.strip() or "https",
    )
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)

# The reverse proxies in front of the app (addresses or networks, comma-separated). A request
# from one of them is taken to come from the rightmost address in X-Forwarded-For that is not
# one of them (`sessions_app.clientaddress`); from anywhere else, X-Forwarded-For is ignored.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", cast=str.strip, default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES must be addresses or networks (10.0.0.0/8), not {_proxy!r}."
        ) from None

# Failed sign-ins (HTTP Basic, POST /auth/credentials, the portal's and the admin's sign-in
# form) are counted per username and client address in the database: after
# AUTH_FAILURE_LIMIT of them within AUTH_FAILURE_WINDOW_SECONDS, that username from that address
# is refused with 429 and Retry-After, without a password check, until fewer than the limit
# remain in the window (`sessions_app.signin`). 0: no limit.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=10)
AUTH_FAILURE_WINDOW_SECONDS = env.int("AUTH_FAILURE_WINDOW_SECONDS", default=900)

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
        "sessions_app.api.renderers.ServiceStackJSVRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "sessions_app.api.parsers.JSONParser",
        "sessions_app.api.parsers.XMLParser",
        "sessions_app.api.parsers.CSVParser",
        "sessions_app.api.parsers.JSVParser",
        "sessions_app.api.parsers.UnlabelledJSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "sessions_app.api.negotiation.ServiceStackNegotiation",
    "EXCEPTION_HANDLER": "sessions_app.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "URL_FORMAT_OVERRIDE": "format",
}

# Telephony provider: "simulated" (the demo's and the tests'), "twilio", or the dotted path of a
# provider class (sessions_app.telephony.PROVIDER_ALIASES names the two shipped).
TELEPHONY_PROVIDER = env.str("TELEPHONY_PROVIDER", default="simulated")
TWILIO_PROVIDER_PATH = "sessions_app.telephony.twilio.TwilioProvider"
TWILIO_SELECTED = TELEPHONY_PROVIDER.strip().lower() in ("twilio", TWILIO_PROVIDER_PATH.lower())


def _base_url(var: str) -> str:
    """An http(s) URL with a host and nothing after its path (no query, no fragment), without
    its trailing slash; "" if unset."""
    value = env.str(var, default="").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"{var} must be an http:// or https:// URL with no query, not {value!r}."
        )
    return value.rstrip("/")


# Twilio (TELEPHONY_PROVIDER=twilio; sessions_app/telephony/twilio.py). The account and its auth
# token, which also signs every callback Twilio sends us; an API key, if given, is used for the
# REST API instead of the token. PUBLIC_BASE_URL is this service as Twilio reaches it: callback
# URLs are built from it and signatures checked against it. TWILIO_API_BASE_URL replaces the
# REST API's scheme and host (tests point it at a fake on loopback; or a regional edge).
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_API_KEY_SID = env.str("TWILIO_API_KEY_SID", default="")
TWILIO_API_KEY_SECRET = env.str("TWILIO_API_KEY_SECRET", default="")
PUBLIC_BASE_URL = _base_url("PUBLIC_BASE_URL")
TWILIO_API_BASE_URL = _base_url("TWILIO_API_BASE_URL")
# Seconds a Twilio REST request may take before it counts as failed (a 502).
TWILIO_TIMEOUT_SECONDS = env.float("TWILIO_TIMEOUT_SECONDS", default=10.0)
# What a held participant hears (Twilio's HoldUrl: an MP3 or WAV file, or TwiML that plays one).
TWILIO_HOLD_MUSIC_URL = env.str(
    "TWILIO_HOLD_MUSIC_URL",
    default="http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3",
)
if TWILIO_SELECTED:
    required = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"]
    if TWILIO_API_KEY_SID or TWILIO_API_KEY_SECRET:  # a key is a pair
        required += ["TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET"]
    for name in required:
        if not globals()[name]:
            raise ImproperlyConfigured(
                f"{name} must be set when TELEPHONY_PROVIDER is twilio (see .env.example)."
            )
    if not re.fullmatch(r"AC[0-9a-fA-F]{32}", TWILIO_ACCOUNT_SID):
        raise ImproperlyConfigured(
            "TWILIO_ACCOUNT_SID must be an account SID: AC followed by 32 hex digits."
        )
# Reconciliation: every this many seconds, `python -m portal.serve` asks the provider about the
# calls of every active session and ends those whose calls are gone (0: never; the command
# `manage.py reconcile_sessions` does the same once).
RECONCILE_INTERVAL_SECONDS = env.float("RECONCILE_INTERVAL_SECONDS", default=300.0)
# Seconds before a simulated invited party answers (Ringing -> Connected); negative: never.
SIMULATED_ANSWER_DELAY = env.float("SIMULATED_ANSWER_DELAY", default=3.0)
# Seconds every simulated provider operation takes: shows what a slow provider does.
SIMULATED_PROVIDER_LATENCY = env.float("SIMULATED_PROVIDER_LATENCY", default=0.0)

# An action that finds another one's provider call in flight on the same session waits this
# long for it, then answers 409 naming it. A claim older than the second value is abandoned
# (its process died mid-call) and taken over.
SESSION_ACTION_WAIT_SECONDS = env.float("SESSION_ACTION_WAIT_SECONDS", default=10.0)
SESSION_ACTION_STALE_SECONDS = env.float("SESSION_ACTION_STALE_SECONDS", default=120.0)
# A provider report about a call no session has is retried for this long, then ignored.
PROVIDER_INBOX_RETRY_SECONDS = env.float("PROVIDER_INBOX_RETRY_SECONDS", default=600.0)
# A successful HTTP Basic check is reused this long (0: never) by the process that made it,
# for at most this many credentials: see `api.authentication.VerifiedCredentials`.
BASIC_AUTH_CACHE_SECONDS = env.float("BASIC_AUTH_CACHE_SECONDS", default=300.0)
BASIC_AUTH_CACHE_SIZE = env.int("BASIC_AUTH_CACHE_SIZE", default=10000)
# Per process, how much of the sessions' rendered text is kept in memory (megabytes of
# characters; 0: none): their SessionInfo documents (`sessions_app.documents`) and the portal's
# table rows (`sessions_app.rows`). Kept by the revision of what they show, never stale.
DOCUMENT_CACHE_MB = env.float("DOCUMENT_CACHE_MB", default=32.0)
ROW_CACHE_MB = env.float("ROW_CACHE_MB", default=32.0)
# How long an `Idempotency-Key` is remembered: a retry within this time answers what the first
# request answered; after it, the key is forgotten and may be used again.
IDEMPOTENCY_KEY_TTL_HOURS = env.float("IDEMPOTENCY_KEY_TTL_HOURS", default=24.0)

# Live events: "postgres" (LISTEN/NOTIFY, works across processes) or "local" (one process).
EVENTS_BACKEND = env.choice(
    "EVENTS_BACKEND",
    default="postgres" if database_engine == "django.db.backends.postgresql" else "local",
    choices=("postgres", "local"),
)
if EVENTS_BACKEND == "postgres" and database_engine != "django.db.backends.postgresql":
    raise ImproperlyConfigured("EVENTS_BACKEND=postgres needs a PostgreSQL DATABASE_URL.")

# Seconds between keep-alive comments on an idle event stream (proxies drop silent ones).
LIVE_KEEPALIVE_SECONDS = env.float("LIVE_KEEPALIVE_SECONDS", default=15.0)

# Server Events for API clients (/event-stream, sessions_app/serverevents.py).
# A client resuming with Last-Event-ID replays what it missed if its first missed event is at
# most this old; further behind, it gets a reset and a snapshot of the active sessions instead.
EVENT_STREAM_RETENTION_HOURS = env.float("EVENT_STREAM_RETENTION_HOURS", default=24.0)
# What cmd.onConnect tells the client: heartbeat this often; a subscription without a heartbeat
# for the idle timeout is dropped (its stream ends, its row is removed).
EVENT_STREAM_HEARTBEAT_SECONDS = env.float("EVENT_STREAM_HEARTBEAT_SECONDS", default=10.0)
EVENT_STREAM_IDLE_TIMEOUT_SECONDS = env.float("EVENT_STREAM_IDLE_TIMEOUT_SECONDS", default=30.0)

# Portal: held calls are highlighted past these many seconds, more strongly past the second.
HOLD_WARN_SECONDS = env.int("HOLD_WARN_SECONDS", default=60)
HOLD_ALERT_SECONDS = env.int("HOLD_ALERT_SECONDS", default=180)

# Where `python -m portal.serve` listens and how many uvicorn workers it starts: read here like
# every other variable, so that a malformed value stops it with the variable's name.
SERVE_HOST = env.str("HOST", default="127.0.0.1")
SERVE_PORT = env.int("PORT", default=8000)
SERVE_WORKERS = env.int("WEB_CONCURRENCY", default=1)

# Webhooks
# Each attempt gives up after this many seconds (the Standard Webhooks recommendation: 15).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
# Seconds before each attempt: the first at once, then the specification's suggested back-off
# (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); after the last one the delivery has failed.
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE", cast=float, default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000]
)
# A receiver's Retry-After (on 429 or 503) is honoured up to this many seconds.
WEBHOOK_RETRY_AFTER_MAX_SECONDS = env.float("WEBHOOK_RETRY_AFTER_MAX_SECONDS", default=36000.0)
# Targets on loopback, private, link-local or reserved addresses are refused (checked when a
# subscription is made and again before every attempt) unless this is on; the demo allows them.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=DEBUG)
# The delivery worker wakes on every session event it hears, and polls this often besides.
WEBHOOK_POLL_SECONDS = env.float("WEBHOOK_POLL_SECONDS", default=2.0)
# `python -m portal.serve` runs the delivery worker in a thread (`make run` asks for it); else
# `manage.py deliver_webhooks` runs it, as many as wanted.
WEBHOOK_DELIVERY_IN_SERVER = env.bool("WEBHOOK_DELIVERY_IN_SERVER", default=False)

LOG_LEVEL = env.choice(
    "LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
