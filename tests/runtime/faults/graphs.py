"""The graph the fault-injection tests run: slow enough to be killed mid-run."""

from __future__ import annotations

import os
import time
from typing import Any

from graphs import END, START, StateGraph
from tests.runtime.sample_graphs import Counter, count_effect

NODES = ("a", "b", "c")


def _step(name: str):
    def node(state: Counter) -> dict[str, Any]:
        # Counted per job (its input's ``value``), before the node's checkpoint.
        count_effect(f"{name}-{state['value']}")
        time.sleep(float(os.environ.get("ORIS_TEST_STEP_SECONDS", "0.3")))
        return {"trail": [*state.get("trail", []), name]}

    node.__name__ = name
    return node


def build_steady() -> StateGraph:
    """a -> b -> c, each counting its runs per job and taking a while."""
    graph = StateGraph(Counter)
    graph.add_sequence([_step(name) for name in NODES])
    graph.add_edge(START, NODES[0])
    graph.add_edge(NODES[-1], END)
    return graph
