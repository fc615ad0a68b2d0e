"""Subgraph persistence and subgraph state in snapshots (issue 12, item 3),
against real LangGraph."""

from __future__ import annotations

from typing import Any

import pytest

from ._libs import Lib, Log, add, ask_after, plain, same, thread


@pytest.mark.parametrize("checkpointer", [True, None])
def test_a_stateful_subgraph_keeps_its_state_across_parent_runs(
    checkpointer: bool | None,
) -> None:
    # True: one thread per node, across runs; None: a fresh run every step
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("c", add("c"))
        g.add_edge(lib.START, "c")
        parent = lib.StateGraph(Log)
        parent.add_node("sub", g.compile(checkpointer=checkpointer))
        parent.add_edge(lib.START, "sub")
        graph = parent.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        return [plain(graph.invoke({"log": ["x"]}, config)) for _ in range(3)]

    same(scenario)


def paused_in_subgraph(lib: Lib) -> tuple[Any, dict[str, Any]]:
    parent = lib.StateGraph(Log)
    parent.add_node("sub", ask_after(lib, "c", "q").compile())
    parent.add_edge(lib.START, "sub")
    graph = parent.compile(checkpointer=lib.InMemorySaver())
    config = thread()
    graph.invoke({"log": []}, config)
    return graph, config


def test_get_state_with_subgraphs_holds_the_subgraphs_snapshot() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = paused_in_subgraph(lib)
        [task] = graph.get_state(config, subgraphs=True).tasks
        sub = task.state
        ns = sub.config["configurable"]["checkpoint_ns"]
        return plain(sub.values), sub.next, plain(sub.interrupts), ns.split(":")[0]

    assert same(scenario)[:2] == ({"log": ["c"]}, ("ask",))


def test_get_state_without_subgraphs_holds_the_subgraphs_config() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = paused_in_subgraph(lib)
        [task] = graph.get_state(config).tasks
        conf = task.state["configurable"]
        return sorted(conf), conf["checkpoint_ns"].startswith("sub:")

    same(scenario)


def test_a_default_subgraph_starts_afresh_when_the_parent_replays() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("c", add("c"))
        g.add_edge(lib.START, "c")
        parent = lib.StateGraph(Log)
        parent.add_node("before", add("before"))
        parent.add_node("sub", g.compile())
        parent.add_edge(lib.START, "before")
        parent.add_edge("before", "sub")
        graph = parent.compile(checkpointer=lib.InMemorySaver())
        config = thread()
        first = plain(graph.invoke({"log": ["x"]}, config))
        older = next(s for s in graph.get_state_history(config) if s.next == ("sub",))
        return first, plain(graph.invoke(None, older.config))

    first, replayed = same(scenario)
    assert replayed == first
