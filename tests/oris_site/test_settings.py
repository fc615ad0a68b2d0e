from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from oris_site import settings as oris_settings


def test_it_reads_a_postgres_url() -> None:
    db = oris_settings.database_from_url("postgres://u:p%40ss@db.example:6543/oris")
    assert db["ENGINE"] == "oris_site.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "u",
        "p@ss",
        "db.example",
        "6543",
        "oris",
    )
    assert db["CONN_MAX_AGE"] > 0
    assert db["CONN_HEALTH_CHECKS"] is True


def test_it_reads_a_sqlite_url_with_wal_and_immediate_transactions() -> None:
    db = oris_settings.database_from_url("sqlite:////tmp/x.db")
    assert db["NAME"] == "/tmp/x.db"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/oris", "postgres://localhost", "redis://x"]
)
def test_it_rejects_unsupported_database_urls(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        oris_settings.database_from_url(url)


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("off", False), ("", False)]
)
def test_env_bool_parses(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("ORIS_FLAG", raw)
    assert oris_settings.env_bool("ORIS_FLAG") is expected


def test_env_helpers_reject_malformed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIS_FLAG", "maybe")
    monkeypatch.setenv("ORIS_NUMBER", "ten")
    monkeypatch.setenv("ORIS_SMALL", "0")
    with pytest.raises(ImproperlyConfigured, match="ORIS_FLAG"):
        oris_settings.env_bool("ORIS_FLAG")
    with pytest.raises(ImproperlyConfigured, match="ORIS_NUMBER"):
        oris_settings.env_int("ORIS_NUMBER", 1)
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        oris_settings.env_int("ORIS_SMALL", 5, minimum=1)


def test_env_secret_reads_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("ORIS_TOKEN_FILE", str(secret))
    assert oris_settings.env_secret("ORIS_TOKEN") == "s3cret"


def test_env_list_splits_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIS_HOSTS", "a.example, b.example,,")
    assert oris_settings.env_list("ORIS_HOSTS", []) == ["a.example", "b.example"]


def test_q_cluster_never_retries_on_its_own_and_locks_tasks_for_a_ttl(
    settings,
) -> None:
    q = settings.Q_CLUSTER
    assert q["orm"] == "default"
    assert (q["max_attempts"], q["ack_failures"]) == (1, True)
    # A delivery a dead cluster took comes back within a TTL; a run outlasting
    # the lock is held by its lease (tests/runtime/faults), not by q2.
    assert q["retry"] == settings.ORIS_LEASE_TTL_SECONDS
    assert q["timeout"] > settings.ORIS_EXECUTION_TIMEOUT_SECONDS


def test_debug_is_off_unless_asked(settings) -> None:
    assert settings.DEBUG is False


def test_an_https_public_url_turns_transport_security_on(monkeypatch) -> None:
    secure = oris_settings.transport_security("https://oris.example.com")
    assert secure["SECURE_SSL_REDIRECT"] is True
    assert secure["SECURE_HSTS_SECONDS"] == 31_536_000
    assert secure["SESSION_COOKIE_SECURE"] is secure["CSRF_COOKIE_SECURE"] is True
    assert secure["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert "^healthz$" in secure["SECURE_REDIRECT_EXEMPT"]
    plain = oris_settings.transport_security("")
    assert plain["SECURE_SSL_REDIRECT"] is False
    assert plain["SECURE_HSTS_SECONDS"] == 0
    assert plain["SECURE_PROXY_SSL_HEADER"] is None


def test_each_secure_setting_can_be_set_on_its_own(monkeypatch) -> None:
    monkeypatch.setenv("ORIS_SECURE_SSL_REDIRECT", "false")
    monkeypatch.setenv("ORIS_SECURE_HSTS_SECONDS", "60")
    monkeypatch.setenv("ORIS_SECURE_PROXY_SSL_HEADER", "true")
    secure = oris_settings.transport_security("https://oris.example.com")
    assert secure["SECURE_SSL_REDIRECT"] is False
    assert secure["SECURE_HSTS_SECONDS"] == 60
    assert oris_settings.transport_security("")["SECURE_PROXY_SSL_HEADER"]


@pytest.mark.parametrize("url", ["oris.example.com", "ftp://oris.example.com"])
def test_a_public_url_must_be_http_or_https(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        oris_settings.transport_security(url)


@pytest.mark.parametrize(
    ("listen", "broker"),
    [("true", "runtime.worker.broker.ListeningBroker"), ("false", None)],
)
def test_q_cluster_listens_for_work_unless_told_not_to(
    listen: str, broker: str | None
) -> None:
    # Settings are read once at import: a fresh interpreter reads them again.
    code = "import oris_site.settings as s; print(s.Q_CLUSTER.get('broker_class'))"
    env = {**os.environ, "ORIS_Q_LISTEN": listen}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=oris_settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == str(broker), out.stderr
