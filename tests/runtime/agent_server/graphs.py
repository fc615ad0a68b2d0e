"""Graphs the Agent Server tests run (registered in the live server's
``ORIS_GRAPHS`` beside ``tests.runtime.sample_graphs.TEST_GRAPHS``)."""

from __future__ import annotations

from typing import Any

from graphs import END, START, StateGraph


def build_echo_steps() -> Any:
    """``{"n": k}`` -> ``{"n": k + 1, "seen": [...]}`` over one node."""

    def step(state: dict[str, Any]) -> dict[str, Any]:
        return {"n": state.get("n", 0) + 1}

    graph = StateGraph(dict)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    return graph


AGENT_GRAPHS = {
    "echo_steps": "tests.runtime.agent_server.graphs:build_echo_steps",
    "store_remember": "tests.runtime.agent_server.graphs_store:build_remember",
}
