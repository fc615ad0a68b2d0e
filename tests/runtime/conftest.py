"""Fixtures of the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from runtime import registry, telemetry
from tests.agents.agent_wire import AgentWire
from tests.runtime.effect_graphs import (
    EFFECT_GRAPHS,
    create_side_table,
    drop_side_table,
)
from tests.runtime.sample_graphs import TEST_GRAPHS


def in_memory_tracing(**options: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    """A tracer provider (``TracerProvider(**options)``) whose spans end up,
    as each ends, in the in-memory exporter it returns with it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(**options)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on, into memory, for this test."""
    provider, exporter = in_memory_tracing()
    telemetry.configure(provider)
    yield exporter
    telemetry.configure(None)
    provider.shutdown()


@pytest.fixture(scope="module")
def wire() -> Iterator[AgentWire]:
    """The local OpenAI-protocol agent model, shared by a module's tests."""
    server = AgentWire()
    yield server
    server.close()


@pytest.fixture
def agent_env(transactional_db, settings, monkeypatch, wire) -> Iterator[dict]:
    """The effect graphs registered (here and for worker processes, whose
    environment this is), their model server reset and the side-effect table."""
    graphs = {**TEST_GRAPHS, **EFFECT_GRAPHS}
    settings.ORIS_GRAPHS = graphs
    registry._cache.clear()
    monkeypatch.setenv("ORIS_TEST_LLM_URL", wire.url)
    wire.reset()
    create_side_table()
    from tests.runtime.test_crash_recovery import worker_env

    env = worker_env() | {
        "ORIS_GRAPHS": ",".join(f"{k}={v}" for k, v in graphs.items()),
        "ORIS_TEST_LLM_URL": wire.url,
    }
    yield env
    drop_side_table()
    registry._cache.clear()


@pytest.fixture
def q2_rings(settings) -> None:
    """Rings queue q2 tasks, as on SQLite and with ``ORIS_Q_LISTEN`` off, on
    PostgreSQL too (where they are notifications otherwise)."""
    settings.ORIS_Q_LISTEN = False
