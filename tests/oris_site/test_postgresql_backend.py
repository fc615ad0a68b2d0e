"""The PostgreSQL backend's health check: nothing sent for a connection that is
fine, and a connection the server closed is replaced before its next use."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the PostgreSQL backend"
    ),
]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Health checks on, each ``SELECT 1`` it sends counted."""
    connection.ensure_connection()
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "health_check_enabled", True)
    sent: list[int] = []
    usable = connection.is_usable

    def counting() -> bool:
        sent.append(1)
        return usable()

    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "is_usable", counting)
    return sent


def test_a_healthy_connection_is_checked_without_a_round_trip(
    checked: list[int],
) -> None:
    pid = _backend_pid()
    close_old_connections()  # as a request or a django-q2 task starts
    assert connection.health_check_done is False
    assert _backend_pid() == pid  # the same connection, kept
    assert checked == []


def test_a_connection_the_server_closed_is_replaced(checked: list[int]) -> None:
    pid = _backend_pid()
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):  # until the backend has exited
            gone = other.execute(
                "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s)",
                [pid],
            ).fetchone()
            if gone and gone[0]:
                break
            time.sleep(0.05)
    close_old_connections()
    assert _backend_pid() != pid  # a new connection, no error
    assert checked == [1]  # the closed socket was seen, and SELECT 1 confirmed it


def test_a_busy_connection_is_checked_with_a_round_trip(checked: list[int]) -> None:
    """Not idle (here: a transaction left open outside Django's knowledge), so
    the socket says nothing certain and ``SELECT 1`` decides, as before."""
    _backend_pid()
    raw = connection.connection
    assert raw is not None
    raw.execute("BEGIN")
    try:
        close_old_connections()
        _backend_pid()
        assert checked == [1]
    finally:
        if not raw.closed:
            raw.rollback()
