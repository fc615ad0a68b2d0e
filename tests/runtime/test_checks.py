from __future__ import annotations

import importlib.util

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from runtime.checks import check_oris_settings, parse_server_addr


def error_ids() -> list[str]:
    return [error.id for error in check_oris_settings()]


def test_default_settings_pass() -> None:
    assert error_ids() == []


@pytest.mark.parametrize("addr", ["8080", "localhost", "host:http", ":80", "h:70000"])
def test_it_rejects_a_bad_server_addr(settings, addr: str) -> None:
    settings.ORIS_SERVER_ADDR = addr
    assert error_ids() == ["oris.E001"]


@pytest.mark.parametrize(
    ("addr", "parsed"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9000", ("[::1]", 9000))],
)
def test_it_parses_server_addrs(addr: str, parsed: tuple[str, int]) -> None:
    assert parse_server_addr(addr) == parsed


def test_it_requires_lease_ttl_above_heartbeat(settings) -> None:
    settings.ORIS_LEASE_TTL_SECONDS = 10
    settings.ORIS_HEARTBEAT_INTERVAL_SECONDS = 10
    assert error_ids() == ["oris.E002"]


def test_it_requires_q_timeout_above_the_execution_timeout(settings) -> None:
    settings.ORIS_EXECUTION_TIMEOUT_SECONDS = 100
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 100}
    assert error_ids() == ["oris.E003"]


def test_it_requires_the_stall_bound_above_the_heartbeat_interval(settings) -> None:
    settings.ORIS_HEARTBEAT_INTERVAL_SECONDS = 10
    settings.ORIS_CLUSTER_STALL_SECONDS = 20  # a beat, a skipped note, a beat
    assert error_ids() == ["oris.E005"]


def test_it_rejects_an_unknown_log_level(settings) -> None:
    settings.LOGGING = {**settings.LOGGING, "root": {"level": "LOUD"}}
    assert error_ids() == ["oris.E004"]


def test_startup_fails_with_an_actionable_message(settings) -> None:
    settings.ORIS_SERVER_ADDR = "nonsense"
    with pytest.raises(SystemCheckError, match="ORIS_SERVER_ADDR"):
        call_command("check")


@pytest.mark.parametrize(
    ("debug", "token", "ids"),
    [(True, "", []), (False, "", ["oris.E005"]), (True, "s3cret", ["oris.E005"])],
)
def test_it_flags_disabled_auth_outside_a_debug_laptop(
    settings, debug: bool, token: str, ids: list[str]
) -> None:
    settings.ORIS_API_AUTH_DISABLED = True
    settings.DEBUG = debug
    settings.ORIS_API_AUTH_BEARER_TOKEN = token
    assert error_ids() == ids


@pytest.mark.parametrize("rate", ["fast", "10/fortnight", "0/minute", "-1/s"])
def test_it_rejects_a_malformed_rate_limit(settings, rate: str) -> None:
    settings.ORIS_API_RATE_LIMIT = rate
    assert error_ids() == ["oris.E006"]


@pytest.mark.parametrize("rate", ["off", "5/second", "600/minute", "10/h", "1/day"])
def test_it_accepts_rate_limits(settings, rate: str) -> None:
    settings.ORIS_API_RATE_LIMIT = rate
    assert error_ids() == []


def test_it_rejects_an_unknown_log_format(settings) -> None:
    settings.ORIS_LOG_FORMAT = "xml"
    assert error_ids() == ["oris.E020"]


def test_it_wants_the_otlp_exporter_when_tracing_sends_otlp(
    settings, monkeypatch
) -> None:
    settings.ORIS_OTEL_ENABLED = True
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)  # otlp by default
    assert error_ids() == []  # the dev install has it
    real = importlib.util.find_spec

    def without_otlp(name: str, *args):
        return None if name.startswith("opentelemetry.exporter.otlp") else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", without_otlp)
    assert error_ids() == ["oris.E021"]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    assert error_ids() == []
