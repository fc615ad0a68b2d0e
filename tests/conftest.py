"""Shared fixtures: database-backend markers and the project's test personas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

# graphs/ and agents/ import no Django (tests/test_architecture.py): their tests
# never reach a database.
DATABASE_FREE = ("graphs", "agents")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Tests marked ``postgres`` need row locks and SKIP LOCKED: PostgreSQL only.
    Tests marked ``no_test_database`` run the same on either pass: the SQLite pass
    runs them, the PostgreSQL pass (``make test`` runs both) skips them."""
    tests = Path(__file__).parent
    for item in items:
        if any(item.path.is_relative_to(tests / name) for name in DATABASE_FREE):
            item.add_marker(pytest.mark.no_test_database)
    if connection.vendor == "postgresql":
        skip = pytest.mark.skip(reason="no test database: the SQLite pass runs it")
        marker = "no_test_database"
    else:
        skip = pytest.mark.skip(reason="needs PostgreSQL (set ORIS_TEST_POSTGRES_URL)")
        marker = "postgres"
    for item in items:
        if marker in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _flush_by_delete() -> Iterator[None]:
    """On PostgreSQL a transactional test's tables are emptied with DELETE rather
    than Django's TRUNCATE: TRUNCATE makes each of the ~40 tables' files anew
    (2.6 s a test on a loaded machine), a DELETE of a test's few rows takes a
    few milliseconds. The foreign keys are deferred (Django makes them so) and
    checked at the commit, when every table is empty. Unlike TRUNCATE, DELETE
    fires the row triggers: a deleted run's ``NOTIFY oris_runs`` wakes whoever
    listens, who finds nothing to do."""
    if connection.vendor != "postgresql":
        yield
        return
    ops = type(connection.ops)
    truncate = ops.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:  # what only TRUNCATE does
            return truncate(
                self,
                style,
                tables,
                reset_sequences=reset_sequences,
                allow_cascade=allow_cascade,
            )
        delete = style.SQL_KEYWORD("DELETE FROM")
        return [f"{delete} {style.SQL_FIELD(self.quote_name(t))};" for t in tables]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ops, "sql_flush", sql_flush)
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, which then drops the test database; on PostgreSQL an open
    connection keeps it from being dropped. An async test's database work runs
    on threads of asgiref's and asyncio's (``sync_to_async``), whose connections
    outlive the test: the shared thread's is closed, and any other left by a
    test thread is ended by the server before the drop."""
    from asgiref.sync import SyncToAsync
    from django.db import connection, connections

    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _test_graphs(settings, tmp_path, monkeypatch):
    """Registers the sample graphs and gives each test its own effects folder."""
    from runtime import registry
    from tests.runtime.sample_graphs import TEST_GRAPHS

    settings.ORIS_GRAPHS = TEST_GRAPHS
    monkeypatch.setenv("ORIS_TEST_EFFECTS_DIR", str(tmp_path))
    registry._cache.clear()
    yield
    registry._cache.clear()


@pytest.fixture(autouse=True)
def _metrics_flushed_at_scrape(settings):
    """No flusher thread in the test process (it would write outside the test's
    transaction): counts reach the database when the test scrapes /metrics.
    Worker subprocesses flush as in production."""
    from runtime import metrics

    settings.ORIS_METRICS_FLUSH_MS = 0
    metrics.discard_pending()
    yield
    metrics.discard_pending()


@pytest.fixture(autouse=True)
def _api_keys_read_anew():
    """No test's request finds a key row another test's request kept
    (``selectors.api_key_find``): key ids repeat across tests."""
    from runtime.selectors import api_key_forget

    api_key_forget()
    yield
    api_key_forget()
