"""CompiledGraph.with_config: default config merged under each call's config."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from graphs import END, START, GraphRecursionError, StateGraph
from graphs._config import merge_configs
from graphs.checkpoint import InMemorySaver

STEPS = 30  # more supersteps than the default recursion limit of 25


class Loop(TypedDict):
    n: int


def looping(steps: int = STEPS) -> Any:
    """A graph of one node that runs ``steps`` supersteps."""
    g = StateGraph(Loop)
    g.add_node("inc", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "inc")
    g.add_conditional_edges("inc", lambda s: "inc" if s["n"] < steps else END)
    return g.compile()


def test_it_raises_the_recursion_limit_for_every_call() -> None:
    graph = looping()
    with pytest.raises(GraphRecursionError):
        graph.invoke({"n": 0})
    assert graph.with_config(recursion_limit=STEPS + 1).invoke({"n": 0}) == {"n": STEPS}


def test_it_leaves_the_original_graph_unchanged() -> None:
    graph = looping()
    graph.with_config(recursion_limit=100)
    assert graph.config is None
    with pytest.raises(GraphRecursionError):
        graph.invoke({"n": 0})


def test_per_call_values_win_over_the_defaults() -> None:
    graph = looping().with_config({"recursion_limit": 100})
    with pytest.raises(GraphRecursionError, match="Recursion limit of 10"):
        graph.invoke({"n": 0}, {"recursion_limit": 10})


def test_config_and_keyword_arguments_merge_and_later_calls_win() -> None:
    graph = looping().with_config({"recursion_limit": 5}, tags=["a"])
    graph = graph.with_config(recursion_limit=STEPS + 1, tags=["b"])
    assert graph.config == {"recursion_limit": STEPS + 1, "tags": ["a", "b"]}
    assert graph.invoke({"n": 0}) == {"n": STEPS}


def test_with_checkpointer_keeps_the_defaults(memory, thread) -> None:
    # the runtime binds its saver to a registered graph: graph.with_checkpointer(...)
    graph = looping().with_config(recursion_limit=STEPS + 1).with_checkpointer(memory)
    assert graph.invoke({"n": 0}, thread) == {"n": STEPS}
    result = graph.run({"n": 0}, {"configurable": {"thread_id": "run"}})
    assert result.status == "completed"
    assert result.state == {"n": STEPS}


def test_configurable_defaults_reach_nodes_under_the_call_config(thread) -> None:
    seen: list[dict[str, Any]] = []

    def node(state: Loop, config: dict[str, Any]) -> dict[str, Any]:
        seen.append(config["configurable"])
        return {"n": 1}

    g = StateGraph(Loop)
    g.add_node("node", node)
    g.add_edge(START, "node")
    graph = g.compile(checkpointer=InMemorySaver()).with_config(
        configurable={"user": "ada", "model": "small"}
    )
    graph.invoke({"n": 0}, {"configurable": {**thread["configurable"], "user": "bo"}})
    assert seen[0]["user"] == "bo"
    assert seen[0]["model"] == "small"
    assert seen[0]["thread_id"] == thread["configurable"]["thread_id"]


def test_the_state_api_uses_the_defaults() -> None:
    graph = looping(3).with_checkpointer(InMemorySaver())
    graph = graph.with_config(configurable={"thread_id": "default-thread"})
    graph.invoke({"n": 0})
    assert graph.get_state({}).values == {"n": 3}
    assert len(list(graph.get_state_history({}))) == 5  # 3 steps, START, input
    graph.update_state({}, {"n": 10})
    assert graph.get_state({}).values == {"n": 10}


def test_a_subgraph_keeps_its_own_defaults() -> None:
    parent = StateGraph(Loop)
    parent.add_node("child", looping().with_config(recursion_limit=STEPS + 1))
    parent.add_edge(START, "child")
    assert parent.compile().invoke({"n": 0}) == {"n": STEPS}


def test_merge_configs_merges_dicts_key_by_key_and_skips_empty_values() -> None:
    merged = merge_configs(
        {"configurable": {"a": 1, "b": 1}, "metadata": {"x": 1}, "recursion_limit": 5},
        None,
        {"configurable": {"b": 2}, "metadata": {}, "recursion_limit": None},
    )
    assert merged == {
        "configurable": {"a": 1, "b": 2},
        "metadata": {"x": 1},
        "recursion_limit": 5,
    }
