"""Django settings. Every knob comes from a KILN_* environment variable (see docs/admin.md).

The embedded mode needs none of them: SQLite, local disk and an in-process queue under
KILN_DATA_DIR. Scale-out engines are turned on by setting their URLs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from kiln.core.config import env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("KILN_DATA_DIR", "./data")).resolve()
TESTING = env_bool("KILN_TESTING", default=False)


def _secret_key() -> str:
    """The secret key from KILN_SECRET_KEY, else one generated once into the data directory."""
    if value := os.environ.get("KILN_SECRET_KEY"):
        return value
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def database_from_url(url: str) -> dict[str, Any]:
    """A Django DATABASES entry from `postgres://user:pass@host:port/db?opt=v` or `sqlite:///p`."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        options = dict(parse_qsl(parts.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("KILN_DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
            "TEST": {"NAME": options.pop("test_name", None)},
        }
    if parts.scheme == "sqlite":
        return sqlite_database(Path(unquote(parts.path)))
    raise ValueError(f"unsupported database URL scheme {parts.scheme!r}")


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # Each server thread keeps its connection (opening one costs ~1.7 ms a request).
        "CONN_MAX_AGE": env_int("KILN_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        # IMMEDIATE: a writer takes the lock when its transaction begins, so two writers
        # never deadlock upgrading a read lock; WAL lets readers go on meanwhile.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                " PRAGMA busy_timeout=20000;"
            ),
        },
        # Tests use a file too (not :memory:), so the live test server's threads each open
        # their own connection, as in production.
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


SECRET_KEY = _secret_key()
DEBUG = env_bool("KILN_DEBUG", default=False)
ALLOWED_HOSTS = env_list("KILN_ALLOWED_HOSTS", ["*"])
EXTERNAL_URL = os.environ.get("KILN_EXTERNAL_URL", "").rstrip("/")
LISTEN = os.environ.get("KILN_LISTEN", "127.0.0.1:8080")
SSH_LISTEN = os.environ.get("KILN_SSH_LISTEN", "127.0.0.1:2222")
# How Kiln's own git hooks reach the web server (loopback by default).
INTERNAL_URL = os.environ.get("KILN_INTERNAL_URL", f"http://{LISTEN}").rstrip("/")
REPOSITORIES_DIR = DATA_DIR / "repositories"
METRICS_ALLOWED_IPS = env_list("KILN_METRICS_ALLOWED_IPS", ["127.0.0.1/32", "::1/128"])

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "kiln.core",
    "kiln.accounts",
    "kiln.namespaces",
    "kiln.projects",
    "kiln.repositories",
    "kiln.webhooks",
    "kiln.labels",
    "kiln.milestones",
    "kiln.events",
    "kiln.notes",
    "kiln.issues",
    "kiln.merge_requests",
    "kiln.notifications",
    "kiln.ci",
    "kiln.web",
]

MIDDLEWARE = [
    "kiln.ops.middleware.RequestContextMiddleware",
    "kiln.ops.middleware.RawPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kiln.ops.ratelimit.RateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kiln.web.middleware.WebMiddleware",
]

ROOT_URLCONF = "kiln.urls"
WSGI_APPLICATION = "kiln.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kiln.web.context.site",
            ],
        },
    },
]

if _db_url := os.environ.get("KILN_DATABASE_URL"):
    DATABASES = {"default": database_from_url(_db_url)}
else:
    DATABASES = {"default": sqlite_database(DATA_DIR / "kiln.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
# Usernames are unique case-insensitively through a functional unique index (Lower), which
# Django's check for `unique=True` on USERNAME_FIELD does not see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
if TESTING:
    # Argon2 at its production cost makes a suite of thousands of sign-ins crawl; the
    # algorithm stays the same, only the cost parameters drop (see kiln.accounts.hashers).
    PASSWORD_HASHERS = ["kiln.accounts.hashers.FastArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
]
AUTHENTICATION_BACKENDS = ["kiln.accounts.backends.KilnBackend"]
LOGIN_URL = "/users/sign_in"

SESSION_COOKIE_NAME = "_kiln_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = EXTERNAL_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_TRUSTED_ORIGINS = [EXTERNAL_URL] if EXTERNAL_URL else []
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "kiln.web.views.errors.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/assets/"
# The UI's assets are vendored in kiln/web/static and served by WhiteNoise straight from the
# package (no collectstatic step, no CDN: the site works offline).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads: Django spools to disk above this; the API caps total sizes per endpoint.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# Email (notifications): SMTP when KILN_SMTP_HOST is set, else printed to the console.
EMAIL_HOST = os.environ.get("KILN_SMTP_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST_USER = os.environ.get("KILN_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("KILN_SMTP_PASSWORD", "")
# KILN_SMTP_TLS: STARTTLS after connecting; KILN_SMTP_SSL: TLS from the first byte (465).
EMAIL_USE_TLS = env_bool("KILN_SMTP_TLS", default=False)
EMAIL_USE_SSL = env_bool("KILN_SMTP_SSL", default=False)
EMAIL_PORT = env_int("KILN_SMTP_PORT", 465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25)
EMAIL_TIMEOUT = env_int("KILN_SMTP_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get(
    "KILN_EMAIL_FROM",
    f"kiln@{urlsplit(EXTERNAL_URL).hostname or 'localhost'}",
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

_redis_url = os.environ.get("KILN_REDIS_URL", "")
if _redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks.backends.immediate.ImmediateBackend"
            if env_bool("KILN_TASKS_IMMEDIATE", default=TESTING)
            else "django_tasks_db.DatabaseBackend"
        ),
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "kiln.ops.logging.JsonFormatter"}},
    "filters": {"request": {"()": "kiln.ops.logging.RequestContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("KILN_LOG_LEVEL", "INFO")},
    "loggers": {
        # Kiln logs each request once itself (kiln.ops.middleware), with the request id.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "gunicorn.access": {"level": "WARNING"},
        "asyncssh": {"level": "WARNING"},
    },
}
