"""Differential: time travel with subgraphs, and subgraph configs addressed from
the root (issue 12, item 3), against real LangGraph."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from ._libs import Lib, Log, add, plain, same, thread
from .test_debug_stream import renamed


def counting(lib: Lib, name: str, inner: Any = None, checkpointer: Any = True) -> Any:
    """A graph whose node ``name`` appends ``name``, then runs ``inner``."""
    g = lib.StateGraph(Log)
    g.add_node(name, add(name))
    g.add_edge(lib.START, name)
    if inner is not None:
        g.add_node("inner", inner)
        g.add_edge(name, "inner")
    return g.compile(checkpointer=checkpointer)


def stateful_levels(lib: Lib, levels: int) -> Any:
    """root -> sub (-> inner ...), every subgraph stateful (checkpointer=True)."""
    graph = None
    for depth in range(levels - 1, 0, -1):
        graph = counting(lib, f"n{depth}", graph)
    root = lib.StateGraph(Log)
    root.add_node("sub", graph)
    root.add_edge(lib.START, "sub")
    return root.compile(checkpointer=lib.InMemorySaver())


def sub_states(graph: Any, config: dict[str, Any]) -> list[Any]:
    """The values of each nested subgraph below ``config``'s snapshot."""
    out = []
    state = graph.get_state(config, subgraphs=True)
    while state.tasks and state.tasks[0].state is not None:
        state = state.tasks[0].state
        out.append(plain(state.values))
    return out


@pytest.mark.parametrize("levels", [2, 3])
def test_replaying_the_root_restores_stateful_subgraphs(levels: int) -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = stateful_levels(lib, levels), thread()
        for i in range(3):
            graph.invoke({"log": [f"x{i}"]}, config)
        second = [s for s in graph.get_state_history(config) if s.next == ("sub",)][1]
        replayed = plain(graph.invoke(None, second.config))
        return replayed, sub_states(graph, config)

    same(scenario)


def test_a_fork_of_the_root_restores_a_stateful_subgraph() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = stateful_levels(lib, 2), thread()
        for i in range(3):
            graph.invoke({"log": [f"x{i}"]}, config)
        second = [s for s in graph.get_state_history(config) if s.next == ("sub",)][1]
        forked = graph.update_state(second.config, {"log": ["forked"]})
        return plain(graph.invoke(None, forked)), sub_states(graph, config)

    same(scenario)


def asking_levels(lib: Lib) -> Any:
    """root -> mid (stateful) -> leaf (stateful), the leaf asks a question."""
    leaf = lib.StateGraph(Log)
    leaf.add_node("c", add("c"))
    leaf.add_node("ask", lambda s: {"log": [lib.interrupt("q")]})
    leaf.add_edge(lib.START, "c")
    leaf.add_edge("c", "ask")
    mid = lib.StateGraph(Log)
    mid.add_node("m", add("m"))
    mid.add_node("leaf", leaf.compile(checkpointer=True))
    mid.add_edge(lib.START, "m")
    mid.add_edge("m", "leaf")
    root = lib.StateGraph(Log)
    root.add_node("mid", mid.compile(checkpointer=True))
    root.add_node("after", add("after"))
    root.add_edge(lib.START, "mid")
    root.add_edge("mid", "after")
    return root.compile(checkpointer=lib.InMemorySaver())


def leaf_config(graph: Any, config: dict[str, Any]) -> dict[str, Any]:
    mid = graph.get_state(config, subgraphs=True).tasks[0].state
    config = mid.tasks[0].state.config
    return config  # type: ignore[no-any-return]


def addressed(graph: Any, cfg: dict[str, Any]) -> Any:
    state = graph.get_state(cfg)
    history = [(s.metadata["step"], s.next) for s in graph.get_state_history(cfg)]
    ns = cfg["configurable"]["checkpoint_ns"]
    return plain(state.values), state.next, history, ns, sorted(cfg["configurable"])


def test_a_leaf_config_three_levels_down_addresses_the_leaf() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = asking_levels(lib), thread()
        graph.invoke({"log": ["x"]}, config)
        cfg = leaf_config(graph, config)
        seen = addressed(graph, cfg)
        resumed = plain(graph.invoke(lib.Command(resume="yes"), cfg))
        return seen, resumed, plain(graph.get_state(config).values)

    (_, nxt, _, ns, _), resumed, _ = same(scenario)
    assert ns == "mid|leaf"
    assert nxt == ("ask",)
    assert resumed["log"][-2:] == ["yes", "after"]


def test_invoking_a_subgraph_config_with_no_input_asks_again() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = asking_levels(lib), thread()
        graph.invoke({"log": ["x"]}, config)
        again = plain(graph.invoke(None, leaf_config(graph, config)))
        return again, plain(graph.get_state(config).next)

    again, _ = same(scenario)
    assert again["__interrupt__"] == [("interrupt", "q")]


def test_a_default_subgraph_snapshot_config_addresses_it() -> None:
    def scenario(lib: Lib) -> Any:
        leaf = lib.StateGraph(Log)
        leaf.add_node("ask", lambda s: {"log": [lib.interrupt("q")]})
        leaf.add_edge(lib.START, "ask")
        root = lib.StateGraph(Log)
        root.add_node("sub", leaf.compile())
        root.add_edge(lib.START, "sub")
        graph, config = root.compile(checkpointer=lib.InMemorySaver()), thread()
        graph.invoke({"log": ["x"]}, config)
        cfg = graph.get_state(config, subgraphs=True).tasks[0].state.config
        values, nxt, history, ns, keys = addressed(graph, cfg)
        resumed = plain(graph.invoke(lib.Command(resume="yes"), cfg))
        return values, nxt, history, ns.split(":")[0], keys, resumed

    same(scenario)


def test_history_of_a_config_naming_a_checkpoint_lists_that_one() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("b", add("b"))
        g.add_edge(lib.START, "a")
        g.add_edge("a", "b")
        graph, config = g.compile(checkpointer=lib.InMemorySaver()), thread()
        graph.invoke({"log": []}, config)
        mid = list(graph.get_state_history(config))[1]
        return [
            (s.metadata["step"], s.next) for s in graph.get_state_history(mid.config)
        ]

    assert same(scenario) == [(1, ("b",))]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_subgraph_chunks_reach_the_caller_while_the_subgraph_runs(
    asynchronous: bool,
) -> None:
    # the subgraph's second node waits (a few seconds at most) for the caller to
    # have seen the first node's chunk: it only can if chunks come as they are made
    def scenario(lib: Lib) -> Any:
        seen = threading.Event()
        waited: list[bool] = []

        def wait(state: Log) -> dict[str, Any]:
            waited.append(seen.wait(5.0))
            return {"log": ["waited"]}

        inner = lib.StateGraph(Log)
        inner.add_node("first", add("first"))
        inner.add_node("wait", wait)
        inner.add_edge(lib.START, "first")
        inner.add_edge("first", "wait")
        root = lib.StateGraph(Log)
        root.add_node("sub", inner.compile())
        root.add_edge(lib.START, "sub")
        graph = root.compile()

        def look(chunk: Any) -> Any:
            ns, update = chunk
            if ns and "first" in update:
                seen.set()
            return (len(ns), plain(update))

        if not asynchronous:
            chunks = [look(c) for c in graph.stream({"log": []}, subgraphs=True)]
        else:

            async def collect() -> list[Any]:
                stream = graph.astream({"log": []}, subgraphs=True)
                return [look(c) async for c in stream]

            chunks = asyncio.run(collect())
        return chunks, waited

    chunks, waited = same(scenario)
    assert waited == [True]
    assert chunks[-1] == (0, {"sub": {"log": ["first", "waited"]}})


def test_update_state_of_a_one_node_graph_names_the_writer_of_the_checkpoint() -> None:
    # the input's superstep wrote it: the update is `__start__`'s, and the node
    # is still next
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("only", add("only"))
        g.add_edge(lib.START, "only")
        graph, config = g.compile(checkpointer=lib.InMemorySaver()), thread()
        graph.invoke({"log": ["x"]}, config)
        before = next(s for s in graph.get_state_history(config) if s.next == ("only",))
        forked = graph.update_state(before.config, {"log": ["y"]})
        state = graph.get_state(forked)
        return state.next, plain(graph.invoke(None, forked))

    assert same(scenario)[0] == ("only",)


def test_subgraph_checkpoints_record_the_checkpoints_of_the_graphs_above() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = stateful_levels(lib, 3), thread()
        graph.invoke({"log": ["x"]}, config)
        saver = graph.checkpointer
        root_steps = {
            s.config["configurable"]["checkpoint_id"]: (s.metadata["step"], s.next)
            for s in graph.get_state_history(config)
        }
        seen = []
        for saved in saver.list(config):  # every namespace of the thread
            ns = saved.config["configurable"]["checkpoint_ns"]
            parents = saved.metadata["parents"]
            seen.append(
                (
                    ns,
                    saved.metadata["step"],
                    sorted(parents),
                    root_steps.get(parents.get("")),
                )
            )
        return sorted(seen, key=repr)

    seen = same(scenario)
    assert ("sub|inner", 1, ["", "sub"], (0, ("sub",))) in seen


def test_subgraph_snapshots_carry_the_checkpoint_map() -> None:
    def public(config: Any) -> Any:  # LangGraph leaks a private key here
        conf = config["configurable"]
        return {k: v for k, v in conf.items() if not k.startswith("__")}

    def scenario(lib: Lib) -> Any:
        # the same thread id on both (each has its own saver): configs show it
        graph, config = asking_levels(lib), {"configurable": {"thread_id": "t"}}
        graph.invoke({"log": ["x"]}, config)
        cfg = leaf_config(graph, config)
        state = graph.get_state(cfg)
        history = [public(s.config) for s in graph.get_state_history(cfg)]
        shown = public(cfg), public(state.config), public(state.parent_config)
        return renamed((shown, history, state.metadata["parents"]))

    (cfg, state_cfg, _), _, parents = same(scenario)
    assert cfg["checkpoint_map"] == state_cfg["checkpoint_map"]
    assert sorted(parents) == ["", "mid"]
