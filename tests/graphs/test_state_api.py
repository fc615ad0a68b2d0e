"""get_state, get_state_history, update_state (forks) and time travel."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any

import pytest

from graphs import START, InvalidUpdateError, StateGraph
from graphs.checkpoint import InMemorySaver

from .conftest import Counter, appender


def chain(memory: InMemorySaver, calls: Tally[str] | None = None) -> Any:
    def node(label: str) -> Any:
        def run(state: Counter) -> dict[str, Any]:
            if calls is not None:
                calls[label] += 1
            return {"log": [label], "n": state["n"] + 1}

        return run

    g = StateGraph(Counter)
    g.add_sequence([("a", node("a")), ("b", node("b")), ("c", node("c"))])
    g.add_edge(START, "a")
    return g.compile(checkpointer=memory)


def test_get_state_returns_values_next_and_metadata(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    graph = chain(memory)
    graph.invoke({"n": 0}, thread)
    snap = graph.get_state(thread)
    assert snap.values == {"n": 3, "log": ["a", "b", "c"]}
    assert snap.next == ()
    assert snap.metadata == {"source": "loop", "step": 3, "parents": {}}
    assert snap.config["configurable"]["checkpoint_id"]
    assert snap.parent_config is not None


def test_get_state_of_an_unknown_thread_is_empty(memory: InMemorySaver) -> None:
    snap = chain(memory).get_state({"configurable": {"thread_id": "nobody"}})
    assert snap.values == {}
    assert snap.next == ()


def test_history_is_newest_first_with_limit_before_and_filter(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    graph = chain(memory)
    graph.invoke({"n": 0}, thread)
    history = list(graph.get_state_history(thread))
    # LangGraph's shape: the input checkpoint (-1), the START superstep (0)
    assert [h.metadata["step"] for h in history] == [3, 2, 1, 0, -1]
    assert [h.next for h in history] == [(), ("c",), ("b",), ("a",), ("__start__",)]
    assert [h.metadata["step"] for h in graph.get_state_history(thread, limit=2)] == [
        3,
        2,
    ]
    older = list(graph.get_state_history(thread, before=history[1].config))
    assert [h.metadata["step"] for h in older] == [1, 0, -1]
    inputs = list(graph.get_state_history(thread, filter={"source": "input"}))
    assert [h.metadata["step"] for h in inputs] == [-1]


def test_invoking_an_older_checkpoint_replays_from_there(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    calls = Tally[str]()
    graph = chain(memory, calls)
    graph.invoke({"n": 0}, thread)
    after_a = next(h for h in graph.get_state_history(thread) if h.next == ("b",))
    out = graph.invoke(None, after_a.config)
    assert out == {"n": 3, "log": ["a", "b", "c"]}
    assert calls == {"a": 1, "b": 2, "c": 2}
    newest = graph.get_state(thread)
    assert newest.parent_config is not None
    # the old branch stays: a fork of the replayed checkpoint, then b and c again
    history = list(graph.get_state_history(thread))
    assert len(history) == 8
    assert [h.metadata["source"] for h in history[:3]] == ["loop", "loop", "fork"]


def test_update_state_forks_and_continues_from_the_node(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    graph = chain(memory)
    graph.invoke({"n": 0}, thread)
    after_a = next(h for h in graph.get_state_history(thread) if h.next == ("b",))
    fork = graph.update_state(
        after_a.config, {"n": 100, "log": ["edited"]}, as_node="a"
    )
    snap = graph.get_state(fork)
    assert snap.values == {"n": 100, "log": ["a", "edited"]}
    assert snap.next == ("b",)
    assert snap.metadata["source"] == "update"
    assert snap.parent_config == after_a.config
    out = graph.invoke(None, fork)
    assert out == {"n": 102, "log": ["a", "edited", "b", "c"]}


def test_update_state_uses_the_last_node_by_default(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    graph = chain(memory)
    graph.invoke({"n": 0}, thread)
    cfg = graph.update_state(thread, {"n": 7})
    assert graph.get_state(cfg).values["n"] == 7
    assert graph.get_state(cfg).next == ()


def test_update_state_with_an_ambiguous_node_raises(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_node("b", appender("b"))
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    graph = g.compile(checkpointer=memory)
    graph.invoke({"n": 0}, thread)
    with pytest.raises(InvalidUpdateError, match="as_node"):
        graph.update_state(thread, {"n": 1})


def test_state_api_needs_a_checkpointer() -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    with pytest.raises(ValueError, match="checkpointer"):
        g.compile().get_state({"configurable": {"thread_id": "x"}})
