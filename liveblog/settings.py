"""Liveblog settings, read from the environment.

With nothing set you get the embedded default: SQLite beside the code, the in-memory
channel layer and one daphne process. Production sets DATABASE_URL, REDIS_URL,
SECRET_KEY, ALLOWED_HOSTS and DEBUG=0 (see docs/deploy.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: int) -> int:
    return _envnumber(name, default, int, "an integer")


def envfloat(name: str, default: float) -> float:
    return _envnumber(name, default, float, "a number")


def _envnumber(name: str, default, cast, kind: str):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return cast(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {value!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envchoice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def envsecret(name: str) -> str | None:
    """Read NAME, or the contents of the file named by NAME_FILE (docker secrets)."""
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get(name) or None


DEBUG = envbool("DEBUG", default=True)
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

SECRET_KEY = envsecret("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set SECRET_KEY (or SECRET_KEY_FILE)"
        )
    # Development only: a fixed key so logins survive restarts of `make run`.
    SECRET_KEY = "dev-insecure-liveblog-key-do-not-use-in-production"

if not DEBUG and not os.environ.get("ALLOWED_HOSTS", "").strip():
    # The development default would answer 400 to every real visitor; say so at start.
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is required when DEBUG is off: the site's host names, comma-separated"
    )
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "channels",
    "django_htmx",
    "template_partials",
    "ninja",  # serves the API docs' Swagger UI from our static files, not a CDN
    "csp",
    # The project's own: the home page, the demo seed, the admin for the programme.
    "liveblog",
    "events",
    "sessions.apps.SessionsConfig",
    "realtime",
    "entries",
    "programme",
    "organisers",
    "archive",
    "questions",
    # Last: its post_migrate makes the groups from every other app's permissions.
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Outside Django's own 400 and 405 answers, so they too are JSON under /api/.
    "liveblog.middleware.ApiErrorsAsJsonMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "realtime.middleware.SignedOutSocketsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "liveblog.middleware.RateLimitMiddleware",
    "liveblog.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "liveblog.urls"
ASGI_APPLICATION = "liveblog.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=0,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI a request's sync code runs on whichever thread asgiref picks, so persistent
    # connections (CONN_MAX_AGE > 0) pile up one per thread and are never reused. A pool per
    # worker process bounds them instead; CONN_HEALTH_CHECKS makes the pool test each
    # connection it hands out, so a PostgreSQL restart costs no failed request (docs/deploy.md).
    DATABASES["default"]["OPTIONS"] = {
        "connect_timeout": envint("DATABASE_CONNECT_TIMEOUT", 5),
        **(
            {
                "pool": {
                    "min_size": envint("DATABASE_POOL_MIN_SIZE", 2),
                    "max_size": envint("DATABASE_POOL_MAX_SIZE", 10),
                    "timeout": envint("DATABASE_POOL_TIMEOUT", 10),
                }
            }
            if envbool("DATABASE_POOL", default=True)
            else {}
        ),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while a blogger writes; IMMEDIATE takes the write lock at
    # BEGIN, so two writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too (not shared-cache memory, whose table locks ignore the busy
    # timeout), one per process so parallel runs never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("SQLITE_TEST_NAME")
        or str(Path(tempfile.gettempdir()) / f"liveblog-test-{os.getpid()}.sqlite3")
    }

REDIS_URL = os.environ.get("REDIS_URL") or None
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "liveblog")
# With Redis, pub/sub by default: one PUBLISH per change whatever the number of readers,
# and the figures in docs/deploy.md (bench/channel_layers.py). CHANNEL_LAYER=redis selects
# the list-based RedisChannelLayer; "memory" serves one process only.
CHANNEL_LAYER = envchoice(
    "CHANNEL_LAYER", ("redis-pubsub", "redis", "memory"), "redis-pubsub" if REDIS_URL else "memory"
)
if CHANNEL_LAYER == "memory":
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
elif REDIS_URL is None:
    raise ImproperlyConfigured(f"CHANNEL_LAYER={CHANNEL_LAYER} needs REDIS_URL")
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": (
                "channels_redis.pubsub.RedisPubSubChannelLayer"
                if CHANNEL_LAYER == "redis-pubsub"
                else "channels_redis.core.RedisChannelLayer"
            ),
            # Several comma-separated URLs shard the layer over several Redis hosts.
            "CONFIG": {
                "hosts": envlist("REDIS_URL", []),
                "prefix": REDIS_PREFIX,
            },
        }
    }

# The cache holds rate-limit counters; with Redis they are shared by every worker.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": envlist("REDIS_URL", [])[0],
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# collectstatic's target; in development whitenoise serves straight from static/.
STATIC_ROOT = (
    Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
    if not (DEBUG or TESTING) or os.environ.get("STATIC_ROOT")
    else None
)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Photos' renditions (entries/photos.py) go through the "default" storage: the file system
# under MEDIA_ROOT unless MEDIA_STORAGE names another backend (an S3-compatible store with
# django-storages: docs/deploy.md). SERVE_MEDIA has Django serve MEDIA_URL itself (on by
# default in development; in production the proxy serves the files, or set it).
MEDIA_URL = os.environ.get("MEDIA_URL") or "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
if os.environ.get("MEDIA_STORAGE"):
    STORAGES["default"] = {"BACKEND": os.environ["MEDIA_STORAGE"]}
SERVE_MEDIA = envbool("SERVE_MEDIA", default=DEBUG)

# Behind a TLS-terminating proxy (docs/deploy.md).
if envbool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", default=True)
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", default=False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"

# No inline script and no eval anywhere: htmx runs with allowEval off and no hx-on, and
# user content is sanitised. Images may come from any http(s) host (slides in entries),
# and blob: is the console's preview of a photo about to be posted.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "https:", "http:", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Who may frame the embeddable live view (/embed/...): every site, unless narrowed to a list
# of origins (EMBED_FRAME_ANCESTORS=https://example.org,https://blog.example.org).
EMBED_FRAME_ANCESTORS = envlist("EMBED_FRAME_ANCESTORS", ["*"])

PORT = envint("PORT", 8000)

# Liveblog's own knobs.
ENTRY_BODY_MAX_LENGTH = envint("ENTRY_BODY_MAX_LENGTH", 5000)
# A reader's question (questions app): its words, and the name it is signed with.
QUESTION_BODY_MAX_LENGTH = envint("QUESTION_BODY_MAX_LENGTH", 1000)
QUESTION_NAME_MAX_LENGTH = 80
# How often a blogger's console asks for new questions (seconds).
QUESTIONS_POLL_SECONDS = envint("QUESTIONS_POLL_SECONDS", 5)
# How long after a session ends its bloggers may still post (wrap-ups) and change entries.
SESSION_WRAP_UP_HOURS = envint("SESSION_WRAP_UP_HOURS", 24)
ENTRIES_PER_PAGE = envint("ENTRIES_PER_PAGE", 20)
API_MAX_REQUEST_BYTES = envint("API_MAX_REQUEST_BYTES", 64 * 1024)
# Every other request body (forms, the admin). Both are kept, declared or chunked, by
# liveblog.middleware.BodyLimitMiddleware around the ASGI app; Django's own check agrees.
REQUEST_MAX_BYTES = envint("REQUEST_MAX_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
# Rate limits (docs/security.md): attempts allowed per window, per key.
RATE_LIMIT_LOGIN = envint("RATE_LIMIT_LOGIN", 20)  # per username and address, 5 minutes
RATE_LIMIT_LOGIN_PER_ADDRESS = envint("RATE_LIMIT_LOGIN_PER_ADDRESS", 100)  # 5 minutes
RATE_LIMIT_POSTS = envint("RATE_LIMIT_POSTS", 60)  # new entries per blogger per minute
RATE_LIMIT_API = envint("RATE_LIMIT_API", 600)  # API calls per token per minute
# Readers' questions per address (hashed, never stored raw) in 10 minutes, every session.
# A venue's Wi-Fi puts a whole room behind one address: enough for the room's questions,
# few enough that one client cannot bury the queue.
RATE_LIMIT_QUESTIONS = envint("RATE_LIMIT_QUESTIONS", 30)
RATE_LIMIT_PREFIX = "rl"
# Reader websockets per client address, counted by each worker process (0 turns a check off).
# A whole venue may share one address behind its NAT, so the limits follow what one worker
# was measured to carry (docs/benchmarks.md: about 1,000-1,400 handshakes a second, and
# pushes under half a second up to a few thousand readers): a venue's crowd is admitted
# as fast as the worker can take it; a single client flooding past that is turned away.
# The burst is the whole open allowance: a venue of 5,000 reconnecting at the same instant
# reaches the gate faster than a worker completes them, and with a burst of 2,000 the
# 3,000 others were turned away once each, which cost the storm a quarter of its CPU and
# made it 9.2 s instead of 7.3 s (docs/benchmarks.md, reconnect storm).
WEBSOCKET_MAX_PER_ADDRESS = envint("WEBSOCKET_MAX_PER_ADDRESS", 5000)  # open at once
WEBSOCKET_CONNECT_RATE = envfloat("WEBSOCKET_CONNECT_RATE", 1000)  # new ones per second...
WEBSOCKET_CONNECT_BURST = envint("WEBSOCKET_CONNECT_BURST", 5000)  # ...after a burst of this
# A reader who missed more changes than this is told to reload instead of replaying them.
CATCHUP_MAX_CHANGES = envint("CATCHUP_MAX_CHANGES", 500)

# Audience figures (realtime/audience.py): every tick each process tells its readers the
# count if it changed, publishes its own counts (with Redis) and samples the per-minute
# history; a process's published counts stop counting TTL seconds after its last tick.
# A tick of 0 turns the background round off (the tests run it by hand).
AUDIENCE_TICK_SECONDS = envfloat("AUDIENCE_TICK_SECONDS", 2.0)
AUDIENCE_TTL_SECONDS = envfloat("AUDIENCE_TTL_SECONDS", 10.0)

# Photos (docs/api.md): the upload endpoint's own body limit (the API's stays 64 KiB
# elsewhere), a pixel limit checked before decoding (a 48-megapixel phone photo passes,
# a decompression bomb does not), the renditions' widths, and the threads that make them.
PHOTO_MAX_BYTES = envint("PHOTO_MAX_BYTES", 20 * 1024 * 1024)
PHOTO_MAX_PIXELS = envint("PHOTO_MAX_PIXELS", 60_000_000)
PHOTO_WIDTHS = [int(width) for width in envlist("PHOTO_WIDTHS", ["480", "960", "1600"])]
PHOTO_WORKERS = envint("PHOTO_WORKERS", 2)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": sys.stdout, "formatter": "plain"}
    },
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Replace Django's own console handler, which would print every line twice.
        "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}
