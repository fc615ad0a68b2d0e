"""stream/astream modes: values, updates, custom, messages, debug, several at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from graphs import START, MessagesState, StateGraph, get_stream_writer
from graphs.messages import AIMessage, HumanMessage

from .conftest import Counter, appender


def two_steps() -> Any:
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), appender("b")])
    g.add_edge(START, "a")
    return g.compile()


def test_values_mode_streams_the_state_after_each_superstep() -> None:
    chunks = list(two_steps().stream({"n": 0}, stream_mode="values"))
    assert [c["log"] for c in chunks] == [[], ["a"], ["a", "b"]]


def test_updates_mode_streams_each_nodes_update() -> None:
    chunks = list(two_steps().stream({"n": 0}))
    assert chunks == [{"a": {"log": ["a"]}}, {"b": {"log": ["b"]}}]


def test_several_modes_are_tagged() -> None:
    chunks = list(two_steps().stream({"n": 0}, stream_mode=["updates", "values"]))
    assert [mode for mode, _ in chunks] == [
        "values",
        "updates",
        "values",
        "updates",
        "values",
    ]


def test_custom_mode_streams_writer_output() -> None:
    def talk(state: Counter) -> dict[str, Any]:
        write = get_stream_writer()
        write({"progress": 1})
        write({"progress": 2})
        return {}

    def kw_writer(state: Counter, writer: Any) -> dict[str, Any]:
        writer("via kwarg")
        return {}

    g = StateGraph(Counter)
    g.add_node("talk", talk)
    g.add_node("kw", kw_writer)
    g.add_edge(START, "talk")
    g.add_edge("talk", "kw")
    chunks = list(g.compile().stream({"n": 0}, stream_mode="custom"))
    assert chunks == [{"progress": 1}, {"progress": 2}, "via kwarg"]


def test_messages_mode_streams_messages_with_metadata() -> None:
    g = StateGraph(MessagesState)
    g.add_node("bot", lambda s: {"messages": [AIMessage(content="hello", id="m1")]})
    g.add_edge(START, "bot")
    chunks = list(
        g.compile().stream(
            {"messages": [HumanMessage(content="hi")]}, stream_mode="messages"
        )
    )
    [(message, meta)] = chunks
    assert message.content == "hello"
    assert meta["langgraph_node"] == "bot"


def test_debug_mode_reports_tasks_results_and_checkpoints() -> None:
    kinds = [c["type"] for c in two_steps().stream({"n": 0}, stream_mode="debug")]
    assert kinds == ["task", "task_result", "task", "task_result"]


def test_invoke_with_another_mode_returns_the_chunks() -> None:
    assert two_steps().invoke({"n": 0}, stream_mode="updates") == [
        {"a": {"log": ["a"]}},
        {"b": {"log": ["b"]}},
    ]


def test_astream_matches_stream() -> None:
    graph = two_steps()

    async def collect() -> list[Any]:
        return [c async for c in graph.astream({"n": 0}, stream_mode="values")]

    assert asyncio.run(collect()) == list(graph.stream({"n": 0}, stream_mode="values"))


def test_unknown_stream_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="stream_mode"):
        list(two_steps().stream({"n": 0}, stream_mode="everything"))


def test_async_nodes_stream_custom_chunks() -> None:
    async def talk(state: Counter) -> dict[str, Any]:
        get_stream_writer()("tick")
        await asyncio.sleep(0)
        get_stream_writer()("tock")
        return {}

    g = StateGraph(Counter)
    g.add_node("a", talk)
    g.add_node("b", talk)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    graph = g.compile()

    async def collect() -> list[Any]:
        return [c async for c in graph.astream({"n": 0}, stream_mode="custom")]

    assert sorted(asyncio.run(collect())) == ["tick", "tick", "tock", "tock"]
