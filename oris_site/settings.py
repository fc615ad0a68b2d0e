"""The single settings module of Oris, driven by environment variables.

Variables may also be written in a ``.env`` file at the project root (or the file
``ORIS_ENV_FILE`` names; empty: none), read before anything else, so the web
server, the CLI, ``qcluster`` and the tests see one configuration; a variable set
in the environment wins over the file. Every project-specific setting is
prefixed ``ORIS_``. Malformed values fail at import time with
``ImproperlyConfigured``; cross-setting invariants are Django system checks in
``runtime/checks.py`` (ids ``oris.E0xx``), so ``manage.py check``, ``migrate``
and ``runserver`` refuse to start with an actionable message.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured
from dotenv import dotenv_values, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent


def env_file() -> Path | None:
    """The ``.env`` file settings read (``ORIS_ENV_FILE``; default: the root's)."""
    name = os.environ.get("ORIS_ENV_FILE", str(BASE_DIR / ".env")).strip()
    return Path(name) if name else None


ORIS_ENV_FILE = env_file()
# The variables the file gave (those the environment did not set already).
ORIS_ENV_FILE_KEYS: list[str] = []
if ORIS_ENV_FILE is not None and ORIS_ENV_FILE.is_file():
    ORIS_ENV_FILE_KEYS = sorted(set(dotenv_values(ORIS_ENV_FILE)) - set(os.environ))
    load_dotenv(ORIS_ENV_FILE, override=False)
elif "ORIS_ENV_FILE" in os.environ and ORIS_ENV_FILE is not None:
    raise ImproperlyConfigured(f"ORIS_ENV_FILE={str(ORIS_ENV_FILE)!r} is not a file")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no, on/off"
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """Reads ``NAME``, or the contents of the file named by ``NAME_FILE``."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path!r}: {exc}") from None
    return os.environ.get(name, default).strip()


def _persistent_secret_key() -> str:
    """A per-checkout key for laptops, so sessions survive restarts of `make run`."""
    path = BASE_DIR / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _pool() -> dict[str, object]:
    """psycopg's connection pool, for the ASGI web process (``oris_site.asgi``
    sets ``ORIS_DB_POOL``): persistent connections would leak under ASGI."""
    if not env_bool("ORIS_DB_POOL", False):
        return {}
    size = env_int("ORIS_DB_POOL_MAX_SIZE", 20, minimum=1)
    return {"pool": {"min_size": 1, "max_size": size, "timeout": 10}}


def _prepare() -> dict[str, object]:
    return {"prepare": env_bool("ORIS_DB_PREPARE", True)}


def database_from_url(url: str) -> dict[str, object]:
    """Translates ``postgres://user:pass@host:port/name?opt=v`` or ``sqlite:///path``."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        if not parts.path.strip("/"):
            raise ImproperlyConfigured(f"DATABASE_URL {url!r} names no database")
        return {
            "ENGINE": "oris_site.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # The hot statements are prepared once per connection; off behind a
            # transaction-pooling PgBouncer (oris_site/postgresql/prepared.py).
            "OPTIONS": options | _pool() | _prepare(),
            # Persistent connections: reconnecting per request (Django's default)
            # makes django-q2 workers and the API several times slower. Under ASGI
            # each request runs on its own thread, so the web process uses a pool.
            "CONN_MAX_AGE": 0
            if _pool()
            else env_int("ORIS_DB_CONN_MAX_AGE", 600, minimum=0),
            "CONN_HEALTH_CHECKS": not _pool(),
        }
    if parts.scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as dj-database-url.
        return sqlite_database(unquote(parts.path[1:]) or "oris.db")
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported; "
        "use postgres://user:password@host:port/name or sqlite:///path/to/file.db"
    )


def sqlite_database(path: str) -> dict[str, object]:
    """SQLite shared by the web process and the workers.

    WAL lets readers run beside the one writer; ``IMMEDIATE`` takes the write lock
    at ``BEGIN`` so two writers queue on the busy timeout instead of failing with
    "database is locked" when a read transaction tries to upgrade.
    """
    name = Path(path) if os.path.isabs(path) else BASE_DIR / path
    timeout = env_int("ORIS_SQLITE_BUSY_TIMEOUT_MS", 20_000, minimum=0)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(name),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": timeout / 1000,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                f"PRAGMA busy_timeout={timeout};"
                "PRAGMA foreign_keys=ON;"
            ),
        },
        "TEST": {"NAME": str(name.with_name(f"test_{name.name}"))},
    }


DEBUG = env_bool("ORIS_DEBUG", False)
SECRET_KEY = env_secret("ORIS_SECRET_KEY") or _persistent_secret_key()
ALLOWED_HOSTS = env_list("ORIS_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("ORIS_CSRF_TRUSTED_ORIGINS", [])


def transport_security(public_url: str) -> dict[str, Any]:
    """Django's HTTPS settings from ``ORIS_PUBLIC_URL`` and ``ORIS_SECURE_*``.

    Behind an https public URL they are all on (HSTS for a year, redirect to
    https, secure cookies, the proxy's ``X-Forwarded-Proto`` trusted); each
    ``ORIS_SECURE_*`` variable turns one on or off on its own. Probes
    (``/healthz``, ``/readyz``, ``/metrics``) are never redirected.
    """
    parts = urlsplit(public_url)
    if public_url and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ImproperlyConfigured(
            f"ORIS_PUBLIC_URL must be an http(s) URL, not {public_url!r}"
        )
    https = parts.scheme == "https"
    proxy = env_bool("ORIS_SECURE_PROXY_SSL_HEADER", https)
    forwarded = ("HTTP_X_FORWARDED_PROTO", "https")
    return {
        "SECURE_SSL_REDIRECT": env_bool("ORIS_SECURE_SSL_REDIRECT", https),
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
        "SECURE_HSTS_SECONDS": env_int(
            "ORIS_SECURE_HSTS_SECONDS", 31_536_000 if https else 0, minimum=0
        ),
        "SESSION_COOKIE_SECURE": env_bool("ORIS_SECURE_COOKIES", https),
        "CSRF_COOKIE_SECURE": env_bool("ORIS_SECURE_COOKIES", https),
        "SECURE_PROXY_SSL_HEADER": forwarded if proxy else None,
    }


# The address users reach Oris at (e.g. https://oris.example.com behind a proxy).
ORIS_PUBLIC_URL = env_str("ORIS_PUBLIC_URL").strip().rstrip("/")
_transport = transport_security(ORIS_PUBLIC_URL)
SECURE_SSL_REDIRECT = _transport["SECURE_SSL_REDIRECT"]
SECURE_REDIRECT_EXEMPT = _transport["SECURE_REDIRECT_EXEMPT"]
SECURE_HSTS_SECONDS = _transport["SECURE_HSTS_SECONDS"]
SESSION_COOKIE_SECURE = _transport["SESSION_COOKIE_SECURE"]
CSRF_COOKIE_SECURE = _transport["CSRF_COOKIE_SECURE"]
SECURE_PROXY_SSL_HEADER = _transport["SECURE_PROXY_SSL_HEADER"]
if ORIS_PUBLIC_URL:
    ALLOWED_HOSTS.append(urlsplit(ORIS_PUBLIC_URL).hostname or "")
    CSRF_TRUSTED_ORIGINS.append(ORIS_PUBLIC_URL)
# The console's and /docs' Content-Security-Policy: scripts and styles from Oris's
# own static files only (Mermaid draws inline SVG styles, hence style-src).
ORIS_CSP = env_str(
    "ORIS_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

ORIS_SERVER_ADDR = env_str("ORIS_SERVER_ADDR", "127.0.0.1:8080")
ORIS_SQLITE_DB = env_str("ORIS_SQLITE_DB", "oris.db")
ORIS_LEASE_TTL_SECONDS = env_int("ORIS_LEASE_TTL_SECONDS", 30, minimum=1)
# The effect ledger (docs/effects.md): model and tool calls of durable runs are
# recorded and answered when a task runs again. Off: they simply run.
ORIS_RECORD_EFFECTS = env_bool("ORIS_RECORD_EFFECTS", True)
ORIS_HEARTBEAT_INTERVAL_SECONDS = env_int(
    "ORIS_HEARTBEAT_INTERVAL_SECONDS", 10, minimum=1
)
ORIS_EXECUTION_TIMEOUT_SECONDS = env_int(
    "ORIS_EXECUTION_TIMEOUT_SECONDS", 3600, minimum=1
)
ORIS_WORKERS = env_int("ORIS_WORKERS", 2, minimum=1)
# One delivery of a q2 task may run this many claimable attempts back to back.
ORIS_DRAIN_LIMIT = env_int("ORIS_DRAIN_LIMIT", 20, minimum=1)
# An attempt dispatched this many times without an outcome (its workers died
# running it, or lost their lease) is dead-lettered instead of requeued.
ORIS_MAX_RECOVERY_ATTEMPTS = env_int("ORIS_MAX_RECOVERY_ATTEMPTS", 5, minimum=1)
# A doorbell that arrives before a retry is due waits at most this long for it.
ORIS_MAX_DOORBELL_WAIT_SECONDS = env_int("ORIS_MAX_DOORBELL_WAIT_SECONDS", 5, minimum=0)
# A supervised cluster none of whose workers progressed (picked up a delivery or
# beat a lease) for this long while work is due is wedged, and restarted.
ORIS_CLUSTER_STALL_SECONDS = env_int(
    "ORIS_CLUSTER_STALL_SECONDS",
    max(ORIS_LEASE_TTL_SECONDS, 3 * ORIS_HEARTBEAT_INTERVAL_SECONDS),
    minimum=1,
)
# Each process adds its counts to the shared metric rows this often (the rest of
# the time they are buffered in memory). 0: only when /metrics is scraped in the
# same process (tests, a single-process embedded runtime).
ORIS_METRICS_FLUSH_MS = env_int("ORIS_METRICS_FLUSH_MS", 1000, minimum=0)


def env_graphs(name: str) -> dict[str, str]:
    """``name=module:builder,other=module:builder`` -> {name: "module:builder"}."""
    graphs: dict[str, str] = {}
    for item in env_list(name, []):
        key, sep, path = item.partition("=")
        if not sep or not key.strip() or ":" not in path:
            raise ImproperlyConfigured(f"{name}: {item!r} is not name=module:builder")
        graphs[key.strip()] = path.strip()
    return graphs


# Retention of finished threads (runtime/services/retention.py): the policy when
# no RetentionPolicy row matches a job's graph and tenant (0: no limit), and how
# many jobs one sweep transaction handles.
ORIS_RETENTION_KEEP_LAST = env_int("ORIS_RETENTION_KEEP_LAST", 0, minimum=0) or None
ORIS_RETENTION_TTL_SECONDS = env_int("ORIS_RETENTION_TTL_SECONDS", 0, minimum=0) or None
ORIS_RETENTION_COMPACT = env_bool("ORIS_RETENTION_COMPACT", False)
ORIS_RETENTION_BATCH = env_int("ORIS_RETENTION_BATCH", 200, minimum=1)


def env_prices(name: str) -> dict[str, dict[str, float]]:
    """``{"provider:model" or "model": {"input": usd, "output": usd}}`` per
    million tokens, as JSON."""
    raw = env_str(name).strip()
    if not raw:
        return {}
    try:
        prices = json.loads(raw)
        if not isinstance(prices, dict):
            raise ValueError
        return {
            str(model): {k: float(price[k]) for k in ("input", "output") if k in price}
            for model, price in prices.items()
        }
    except (ValueError, TypeError, AttributeError):
        raise ImproperlyConfigured(
            f'{name} must be JSON like {{"openai:gpt-4o": {{"input": 2.5, '
            f'"output": 10}}}} (USD per million tokens)'
        ) from None


# Budgets (runtime/services/budgets.py): the prices of model calls whose reply
# carries no cost of its own.
ORIS_PRICES = env_prices("ORIS_PRICES")

ORIS_GRAPHS = env_graphs("ORIS_GRAPHS")
ORIS_DEFAULT_GRAPH = env_str("ORIS_DEFAULT_GRAPH", "echo")
# Resuming or replaying a run whose graph's definition changed since the run
# started: "error" refuses (409), "warn" continues and notes it in the timeline.
ORIS_GRAPH_DEFINITION_CHANGED = (
    env_str("ORIS_GRAPH_DEFINITION_CHANGED", "error").strip().lower()
)
if ORIS_GRAPH_DEFINITION_CHANGED not in ("error", "warn"):
    raise ImproperlyConfigured("ORIS_GRAPH_DEFINITION_CHANGED must be error or warn")
# The `assistant` demo agent: "provider:model" (unset: a scripted model, no key).
ORIS_ASSISTANT_MODEL = env_str("ORIS_ASSISTANT_MODEL").strip()
ORIS_WORKSPACE_ROOT = env_str(
    "ORIS_WORKSPACE_ROOT", str(BASE_DIR / "var" / "workspace")
)

# /v1 credentials (the reference's names). With none configured and no API key
# rows, /v1 refuses every request unless ORIS_API_AUTH_DISABLED is set.
ORIS_API_AUTH_BEARER_TOKEN = env_secret("ORIS_API_AUTH_BEARER_TOKEN")
ORIS_API_AUTH_API_KEY = env_secret("ORIS_API_AUTH_API_KEY")
ORIS_API_AUTH_API_KEY_ID = env_str("ORIS_API_AUTH_API_KEY_ID").strip()
ORIS_API_AUTH_DISABLED = env_bool("ORIS_API_AUTH_DISABLED", False)
# Fail closed: credential-free /v1 only on a DEBUG laptop with no credential set
# (runtime/checks.py says the same as oris.E005; HasScope also refuses it once API
# keys exist).
if ORIS_API_AUTH_DISABLED and (
    ORIS_API_AUTH_BEARER_TOKEN or ORIS_API_AUTH_API_KEY or not DEBUG
):
    raise ImproperlyConfigured(
        "ORIS_API_AUTH_DISABLED=true is refused unless ORIS_DEBUG=true and no "
        "ORIS_API_AUTH_* credential is configured"
    )
ORIS_API_MAX_BODY_BYTES = env_int("ORIS_API_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1)
ORIS_API_MAX_WAIT_MS = env_int("ORIS_API_MAX_WAIT_MS", 60_000, minimum=0)
# Requests per credential and window on /v1 ("<n>/second|minute|hour|day", or off).
ORIS_API_RATE_LIMIT = env_str("ORIS_API_RATE_LIMIT", "6000/minute")
ORIS_MAX_ACTIVE_LEASES_PER_WORKER = env_int(
    "ORIS_MAX_ACTIVE_LEASES_PER_WORKER", 8, minimum=1
)
ORIS_MAX_ACTIVE_LEASES_PER_TENANT = env_int(
    "ORIS_MAX_ACTIVE_LEASES_PER_TENANT", 8, minimum=1
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "runtime",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "runtime.api.telemetry.TracingMiddleware",
    "runtime.api.middleware.ApiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "oris_site.static.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "runtime.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "runtime.api.telemetry.PrometheusAfterMiddleware",
    # The chain runs synchronously under ASGI too, with the view, in one call on
    # a request thread (oris_site/asgi.py).
    "runtime.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "oris_site.urls"
WSGI_APPLICATION = "oris_site.wsgi.application"
ASGI_APPLICATION = "oris_site.asgi.application"

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

_database_url = env_str("DATABASE_URL").strip()
DATABASES = {
    "default": (
        database_from_url(_database_url)
        if _database_url
        else sqlite_database(ORIS_SQLITE_DB)
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The console's one date format, with the time zone (oris_site/formats/en).
FORMAT_MODULE_PATH = ["oris_site.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Serve static files straight from the apps when collectstatic has not run.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["runtime.api.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "runtime.api.negotiation.ContentNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "runtime.api.auth.CredentialAuthentication",
        "runtime.api.auth.StaffSessionAuthentication",
    ],
    # Forgetting a view's required_scope is a denial, never an opening.
    "DEFAULT_PERMISSION_CLASSES": ["runtime.api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["runtime.api.throttling.CredentialRateThrottle"],
    "EXCEPTION_HANDLER": "runtime.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Oris runtime API",
    "DESCRIPTION": "Durable execution for software that reasons before it acts.",
    "VERSION": "v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Every operation has one of these tags (from its API class's scope).
    "TAGS": [
        {
            "name": "jobs",
            "description": "Start runs, inspect them, resume, replay, cancel",
        },
        {"name": "interrupts", "description": "Questions runs ask people, and answers"},
        {"name": "workers", "description": "The lease protocol of HTTP workers"},
        {"name": "dead letters", "description": "Attempts out of retries; replay"},
        {"name": "audit", "description": "The audit log and retry histories"},
        {"name": "graphs", "description": "Registered graphs, their schemas, diagrams"},
    ],
    # Swagger UI from the sidecar package: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# django-q2 is the doorbell, our tables are the ledger: q2 never retries on its own,
# our Attempt rows decide retries, backoff and dead letters. Its task lock
# (``retry``) is one lease TTL, not the longest run: a delivery prefetched by a
# cluster that died comes back within a TTL, and one redelivered while it still
# runs only drains what is claimable (a running attempt is not: its lease holds
# it). q2 warns about a retry shorter than its timeout; here that is on purpose.
_q_timeout = ORIS_EXECUTION_TIMEOUT_SECONDS + 60
warnings.filterwarnings(
    "ignore", message="Retry and timeout are misconfigured", module="django_q.conf"
)
# On PostgreSQL submitting work sends a NOTIFY that an idle q2 worker waits for,
# and it claims the work itself (runtime/worker/serve.py); q2 tasks notify the
# cluster's pusher. Each looks on its own only every ORIS_Q_IDLE_POLL_SECONDS
# besides (a fallback). On SQLite, or with ORIS_Q_LISTEN off (LISTEN does not
# work through a transaction-pooling PgBouncer), work is rung as q2 tasks and the
# cluster polls every 50 ms. A cluster that listens is woken by submitters either
# way (on PostgreSQL every ring notifies); one that does not needs it off on the
# web processes too (their rings must be q2 tasks).
ORIS_Q_LISTEN = env_bool("ORIS_Q_LISTEN", True)
ORIS_Q_IDLE_POLL_SECONDS = env_int("ORIS_Q_IDLE_POLL_SECONDS", 10, minimum=1)
ORIS_Q_SAVE_LIMIT = env_int("ORIS_Q_SAVE_LIMIT", -1, minimum=-1)
Q_CLUSTER: dict[str, Any] = {
    "name": "oris",
    "orm": "default",
    "workers": ORIS_WORKERS,
    "timeout": _q_timeout,
    "retry": ORIS_LEASE_TTL_SECONDS,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.05,
    # By default successful deliveries are not kept (nothing reads them: our
    # attempt rows are the ledger); failed ones are, for the console's "Failed
    # tasks".
    "save_limit": ORIS_Q_SAVE_LIMIT,
    "label": "Task queue",
    "sync": env_bool("ORIS_Q_SYNC", False),
}
if ORIS_Q_LISTEN:
    Q_CLUSTER["broker_class"] = "runtime.worker.broker.ListeningBroker"


def env_otel() -> bool:
    """Tracing is on with ``ORIS_OTEL_ENABLED``, else when a standard ``OTEL_*``
    variable names an exporter or an OTLP endpoint; ``OTEL_SDK_DISABLED`` wins."""
    if env_bool("OTEL_SDK_DISABLED", False):
        return False
    exporter = env_str("OTEL_TRACES_EXPORTER").strip().lower()
    named = any(
        env_str(name).strip()
        for name in (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        )
    )
    return env_bool("ORIS_OTEL_ENABLED", named or exporter not in ("", "none"))


# Observability: OpenTelemetry traces and structured logs (docs/observability/).
ORIS_OTEL_ENABLED = env_otel()
ORIS_LOG_FORMAT = env_str("ORIS_LOG_FORMAT", "text").strip().lower()
LOG_FORMATS = ("text", "json")

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"oris": {"()": "runtime.logs.ContextFilter"}},
    "formatters": {
        "text": {
            "()": "runtime.logs.LineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "runtime.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if ORIS_LOG_FORMAT == "json" else "text",
            "filters": ["oris"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("ORIS_LOG_LEVEL", "INFO")},
    "loggers": {"django-q": {"level": env_str("ORIS_Q_LOG_LEVEL", "WARNING")}},
}
