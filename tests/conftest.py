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
