"""Differential: the ``debug``, ``tasks`` and ``checkpoints`` stream modes.

Checkpoint and task ids differ between the engines, so every id is renamed by
order of first appearance: the events must then be equal, which also checks that
a checkpoint's ``config`` is the next one's ``parent_config`` and that the task ids
a checkpoint announces are the ids of the task events that follow.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ._libs import Lib, Log, add, chain, plain, same

_ID = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$"
)


def renamed(value: Any, ids: dict[str, str] | None = None) -> Any:
    """``value`` with ids renamed in order of appearance, exceptions as their
    class and message, and no timestamps."""
    ids = {} if ids is None else ids
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    if isinstance(value, dict):
        return {
            renamed(k, ids): renamed(v, ids)
            for k, v in value.items()
            if k != "timestamp"
        }
    if isinstance(value, (list, tuple)):
        return type(value)(renamed(v, ids) for v in value)
    if isinstance(value, str):
        if _ID.match(value):
            return ids.setdefault(value, f"id{len(ids)}")
        if ":" in value:  # a namespace: node:task_id|node:task_id...
            parts = [p.rsplit(":", 1) for p in value.split("|")]
            if all(len(p) == 2 and _ID.match(p[1]) for p in parts):
                return "|".join(f"{n}:{renamed(t, ids)}" for n, t in parts)
    return value


def thread() -> dict[str, Any]:
    """The same thread id on both engines (each scenario has a saver of its own),
    since the events show it."""
    return {"configurable": {"thread_id": "t"}}


def joined(lib: Lib) -> Any:
    g = lib.StateGraph(Log)
    for name in "abc":
        g.add_node(name, add(name))
    g.add_edge(lib.START, "a")
    g.add_edge(lib.START, "b")
    g.add_edge(["a", "b"], "c")
    return g.compile(checkpointer=lib.InMemorySaver())


def test_debug_checkpoints_carry_config_and_parent_config() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b")
        return renamed(
            plain(list(graph.stream({"log": []}, thread(), stream_mode="debug")))
        )

    events = same(scenario)
    checkpoints = [e["payload"] for e in events if e["type"] == "checkpoint"]
    assert checkpoints[0]["parent_config"] is None
    assert checkpoints[1]["parent_config"] == checkpoints[0]["config"]


def test_tasks_and_checkpoints_modes_with_a_join_and_user_metadata() -> None:
    def scenario(lib: Lib) -> Any:
        config = {**thread(), "metadata": {"user": 1}, "tags": ["t1"]}
        modes = ["tasks", "checkpoints", "debug"]
        return renamed(
            plain(list(joined(lib).stream({"log": []}, config, stream_mode=modes)))
        )

    events = same(scenario)
    tasks = [p for mode, p in events if mode == "tasks" and "triggers" in p]
    assert tasks[0]["metadata"] == {"user": 1, "tags": ["t1"]}
    assert tasks[-1]["triggers"] == ("branch:to:c", "join:a+b:c")


def test_debug_events_of_a_pause_and_its_resume() -> None:
    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("ask", lambda s: {"log": [lib.interrupt("why?")]})
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "ask")
        graph, config = g.compile(checkpointer=lib.InMemorySaver()), thread()
        ids: dict[str, str] = {}
        first = list(graph.stream({"log": []}, config, stream_mode="debug"))
        again = list(
            graph.stream(lib.Command(resume="because"), config, stream_mode="debug")
        )
        return renamed(plain(first), ids), renamed(plain(again), ids)

    same(scenario)


def test_checkpoint_tasks_of_a_subgraph_name_its_namespace() -> None:
    def scenario(lib: Lib) -> Any:
        inner = lib.StateGraph(Log)
        inner.add_node("x", add("x"))
        inner.add_edge(lib.START, "x")
        g = lib.StateGraph(Log)
        g.add_node("sub", inner.compile())
        g.add_node("after", add("after"))
        g.add_edge(lib.START, "sub")
        g.add_edge("sub", "after")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        chunks = graph.stream({"log": []}, thread(), stream_mode="checkpoints")
        return renamed(plain(list(chunks)))

    chunks = same(scenario)
    (sub_task,) = chunks[1]["tasks"]
    assert sub_task["state"]["configurable"]["checkpoint_ns"].startswith("sub:")


def test_debug_events_of_a_failed_superstep() -> None:
    def boom(state: Any) -> Any:
        raise ValueError("boom")

    def scenario(lib: Lib) -> Any:
        g = lib.StateGraph(Log)
        g.add_node("a", add("a"))
        g.add_node("bad", boom)
        g.add_edge(lib.START, "a")
        g.add_edge(lib.START, "bad")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        events: list[Any] = []
        try:
            events.extend(graph.stream({"log": []}, thread(), stream_mode="tasks"))
        except ValueError as exc:
            events.append(str(exc))
        return renamed(plain(events))

    same(scenario)


@pytest.mark.parametrize("checkpointer", [True, None])
def test_checkpoint_events_of_a_subgraph_with_subgraphs(checkpointer: Any) -> None:
    def scenario(lib: Lib) -> Any:
        inner = lib.StateGraph(Log)
        inner.add_node("x", add("x"))
        inner.add_edge(lib.START, "x")
        g = lib.StateGraph(Log)
        g.add_node("sub", inner.compile(checkpointer=checkpointer))
        g.add_edge(lib.START, "sub")
        graph = g.compile(checkpointer=lib.InMemorySaver())
        chunks = graph.stream(
            {"log": []}, thread(), stream_mode="debug", subgraphs=True
        )
        return renamed(plain(list(chunks)))

    same(scenario)
