"""Shared fixtures: database-backend markers and the project's test personas."""

from __future__ import annotations

import pytest
from django.db import connection


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Tests marked ``postgres`` need row locks and SKIP LOCKED: PostgreSQL only."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set ORIS_TEST_POSTGRES_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


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
