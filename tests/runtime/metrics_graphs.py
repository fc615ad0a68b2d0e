"""Graphs of the observability workload (importable by worker subprocesses):
one per way a run can end, and an agent whose model is a local OpenAI-compatible
server (``ORIS_TEST_LLM_URL``)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from agents import Pricing, create_agent
from agents.chat_models.openai import ChatOpenAI
from agents.tools.calculator import CalculatorTool
from graphs import END, START, StateGraph, interrupt
from tests.runtime.sample_graphs import Counter, count_effect, one_node, step

PRICING = Pricing(input_per_million=2.0, output_per_million=8.0)


def fails(state: Counter) -> dict[str, Any]:
    raise RuntimeError("this run always fails")


def build_fails() -> StateGraph:
    return one_node(fails)


def asks(state: Counter) -> dict[str, Any]:
    return {"value": interrupt({"question": "go on?"})}


def build_asks() -> StateGraph:
    return one_node(asks)


def sleeps(state: Counter) -> dict[str, Any]:
    time.sleep(float(os.environ.get("ORIS_TEST_SLEEP_SECONDS", "4")))
    return {"trail": ["sleeps"]}


def build_sleeps() -> StateGraph:
    """Outlives a short ``timeout_ms``."""
    return one_node(sleeps)


def dies_once(state: Counter) -> dict[str, Any]:
    """SIGKILLs its worker the first time, once its counts so far are flushed
    (a kill loses what is not flushed yet, and the test counts exactly)."""
    from runtime import metrics

    if count_effect("dies_once") == 1:
        metrics.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return {"trail": ["dies_once"]}


def build_dies_once() -> StateGraph:
    graph = StateGraph(Counter)
    graph.add_sequence([step("before_death"), dies_once])
    graph.add_edge(START, "before_death")
    graph.add_edge("dies_once", END)
    return graph


def build_agent() -> Any:
    model = ChatOpenAI(
        model="oris-test-model",
        api_key="test",
        base_url=os.environ["ORIS_TEST_LLM_URL"],
        pricing=PRICING,
    )
    return create_agent(model, tools=[CalculatorTool()])


METRICS_GRAPHS = {
    "fails": "tests.runtime.metrics_graphs:build_fails",
    "asks": "tests.runtime.metrics_graphs:build_asks",
    "sleeps": "tests.runtime.metrics_graphs:build_sleeps",
    "dies_once": "tests.runtime.metrics_graphs:build_dies_once",
    "agent": "tests.runtime.metrics_graphs:build_agent",
}
