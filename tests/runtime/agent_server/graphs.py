"""Graphs the Agent Server tests run (registered in the live server's
``ORIS_GRAPHS`` beside ``tests.runtime.sample_graphs.TEST_GRAPHS``)."""

from __future__ import annotations

from typing import Any, TypedDict

from graphs import END, START, StateGraph


class Counter(TypedDict):
    n: int


class EchoContext(TypedDict):
    """What a run of ``echo_steps`` may be configured with."""

    tone: str
    thread_id: str  # the runtime's: not in the assistant's config schema


def build_echo_steps() -> Any:
    """``{"n": k}`` -> ``{"n": k + 1}`` over one node."""

    def step(state: Counter) -> dict[str, Any]:
        return {"n": state.get("n", 0) + 1}

    graph = StateGraph(Counter, context_schema=EchoContext)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    return graph


AGENT_GRAPHS = {
    "echo_steps": "tests.runtime.agent_server.graphs:build_echo_steps",
    "chat": "tests.runtime.agent_server.graphs_runs:build_chat",
    "review": "tests.runtime.agent_server.graphs_runs:build_review",
    "ticks": "tests.runtime.agent_server.graphs_runs:build_ticks",
    "greets": "tests.runtime.agent_server.graphs_runs:build_greets",
    "fails": "tests.runtime.agent_server.graphs_runs:build_fails",
    "crashy": "tests.runtime.agent_server.graphs_runs:build_crashy",
    "drafts": "tests.runtime.agent_server.graphs_threads:build_review",
    "nested": "tests.runtime.agent_server.graphs_threads:build_nested",
    "store_remember": "tests.runtime.agent_server.graphs_store:build_remember",
}
