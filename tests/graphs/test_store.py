"""InMemoryStore passes the store conformance suite."""

from __future__ import annotations

import pytest

from graphs.store import BaseStore, InMemoryStore

from .store_conformance import StoreConformance


class TestInMemoryStore(StoreConformance):
    @pytest.fixture
    def store(self) -> BaseStore:
        return InMemoryStore()
