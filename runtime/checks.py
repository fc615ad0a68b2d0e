"""System checks on the ``ORIS_*`` settings (run by check, migrate and servers)."""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import os

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from runtime.api.throttling import parse_rate


def parse_server_addr(value: str) -> tuple[str, int]:
    """Splits ``host:port`` (``[::1]:8080`` for IPv6); raises ``ValueError``."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(value)
    if host.startswith("["):
        ipaddress.IPv6Address(host.strip("[]"))
    return host, int(port)


@register()
def check_oris_settings(app_configs=None, **kwargs) -> list[Error]:
    errors: list[Error] = []
    try:
        parse_server_addr(settings.ORIS_SERVER_ADDR)
    except ValueError:
        errors.append(
            Error(
                f"ORIS_SERVER_ADDR={settings.ORIS_SERVER_ADDR!r} is not host:port.",
                hint="Use for example 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080.",
                id="oris.E001",
            )
        )
    if settings.ORIS_LEASE_TTL_SECONDS <= settings.ORIS_HEARTBEAT_INTERVAL_SECONDS:
        errors.append(
            Error(
                f"ORIS_LEASE_TTL_SECONDS ({settings.ORIS_LEASE_TTL_SECONDS}) must be "
                "longer than ORIS_HEARTBEAT_INTERVAL_SECONDS "
                f"({settings.ORIS_HEARTBEAT_INTERVAL_SECONDS}).",
                hint="Otherwise a healthy worker loses its lease between heartbeats; "
                "a TTL of about three heartbeat intervals is usual.",
                id="oris.E002",
            )
        )
    q, longest = settings.Q_CLUSTER, settings.ORIS_EXECUTION_TIMEOUT_SECONDS
    if q.get("timeout") and q["timeout"] <= longest:
        errors.append(
            Error(
                "Q_CLUSTER['timeout'] must be longer than "
                f"ORIS_EXECUTION_TIMEOUT_SECONDS ({longest}).",
                hint="django-q2 kills a worker whose task outlasts its timeout, "
                "so a run Oris still allows would die mid-run.",
                id="oris.E003",
            )
        )
    stall = settings.ORIS_CLUSTER_STALL_SECONDS
    if stall <= 2 * settings.ORIS_HEARTBEAT_INTERVAL_SECONDS:
        errors.append(
            Error(
                f"ORIS_CLUSTER_STALL_SECONDS ({stall}) must be longer than twice "
                "ORIS_HEARTBEAT_INTERVAL_SECONDS "
                f"({settings.ORIS_HEARTBEAT_INTERVAL_SECONDS}).",
                hint="A cluster busy with long runs shows progress only when it "
                "beats their leases; a shorter bound restarts it mid-run.",
                id="oris.E005",
            )
        )
    level = logging.getLevelName(str(settings.LOGGING["root"]["level"]).upper())
    if not isinstance(level, int):
        errors.append(
            Error(
                f"ORIS_LOG_LEVEL={settings.LOGGING['root']['level']!r} is not a level.",
                hint="Use DEBUG, INFO, WARNING, ERROR or CRITICAL.",
                id="oris.E004",
            )
        )
    errors += _observability_errors()
    errors += _auth_disabled_errors()
    try:
        parse_rate(settings.ORIS_API_RATE_LIMIT)
    except ImproperlyConfigured as exc:
        errors.append(
            Error(str(exc), hint="For example 6000/minute, or off.", id="oris.E006")
        )
    return errors


def _observability_errors() -> list[Error]:
    """The log format is one we write; tracing over OTLP has its exporter."""
    errors = []
    if settings.ORIS_LOG_FORMAT not in settings.LOG_FORMATS:
        errors.append(
            Error(
                f"ORIS_LOG_FORMAT={settings.ORIS_LOG_FORMAT!r} is not a log format.",
                hint="Use text (the default) or json.",
                id="oris.E020",
            )
        )
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower()
    otlp = settings.ORIS_OTEL_ENABLED and "otlp" in exporters.split(",")
    if otlp and importlib.util.find_spec("opentelemetry.exporter.otlp") is None:
        errors.append(
            Error(
                "Tracing is on with OTEL_TRACES_EXPORTER=otlp, but the OTLP "
                "exporter is not installed.",
                hint="pip install 'oris[otlp]', or set OTEL_TRACES_EXPORTER "
                "to console or none.",
                id="oris.E021",
            )
        )
    return errors


def _auth_disabled_errors() -> list[Error]:
    """Credential-free /v1 is for a DEBUG laptop without credentials, never beside
    them (callers without one would be anonymous admins)."""
    if not settings.ORIS_API_AUTH_DISABLED:
        return []
    configured = settings.ORIS_API_AUTH_BEARER_TOKEN or settings.ORIS_API_AUTH_API_KEY
    if settings.DEBUG and not configured:
        return []
    return [
        Error(
            "ORIS_API_AUTH_DISABLED=true while "
            + ("credentials are configured." if configured else "DEBUG is off."),
            hint="Unset ORIS_API_AUTH_DISABLED; call /v1 with a credential.",
            id="oris.E005",
        )
    ]
