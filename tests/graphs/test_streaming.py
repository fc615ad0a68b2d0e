"""stream/astream modes: values, updates, custom, messages, debug, several at once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from typing import Any

import pytest

from graphs import (
    START,
    MessagesState,
    StateGraph,
    get_config,
    get_message_writer,
    get_stream_writer,
)
from graphs.checkpoint import InMemorySaver
from graphs.messages import AIMessage, AIMessageChunk, HumanMessage

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


# -- nodes streaming message chunks (get_message_writer) ---------------------------


def streaming_bot(reply_id: str = "r1", *, stream: bool = True) -> Any:
    """A node that streams its reply as chunks, then returns the whole reply."""

    def bot(state: MessagesState) -> dict[str, Any]:
        write = get_message_writer()
        if stream:
            for token in ("hel", "lo"):
                write(AIMessageChunk(content=token, id=reply_id))
        return {"messages": [AIMessage(content="hello", id=reply_id)]}

    return bot


def chat_graph(*nodes: tuple[str, Any], checkpointer: Any = None) -> Any:
    """A chain of ``(name, node)`` over ``MessagesState``."""
    g = StateGraph(MessagesState)
    previous = START
    for name, fn in nodes:
        g.add_node(name, fn)
        g.add_edge(previous, name)
        previous = name
    return g.compile(checkpointer=checkpointer)


def greet(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(content="hi there", id="g1")]}


def test_message_writer_streams_chunks_with_the_running_step(thread) -> None:
    graph = chat_graph(
        ("greet", greet), ("bot", streaming_bot()), checkpointer=InMemorySaver()
    )
    events = list(
        graph.stream(
            {"messages": [HumanMessage("hi", id="h1")]}, thread, stream_mode="messages"
        )
    )
    chunks = [(m, meta) for m, meta in events if isinstance(m, AIMessageChunk)]
    assert [m.content for m, _ in chunks] == ["hel", "lo"]
    meta = chunks[0][1]
    # the step of the checkpoint the superstep writes (not the step before it)
    [bot_checkpoint] = [
        s for s in graph.get_state_history(thread) if s.metadata["step"] == 2
    ]
    assert bot_checkpoint.values["messages"][-1].id == "r1"
    assert meta["langgraph_step"] == 2
    assert meta["langgraph_node"] == "bot"
    assert meta["langgraph_path"] == ("__pregel_pull", "bot")
    assert meta["langgraph_checkpoint_ns"].startswith("bot:")
    assert meta["thread_id"] == thread["configurable"]["thread_id"]
    # a whole message sent by the engine carries the same metadata keys and step
    [(greeting, greet_meta)] = [(m, x) for m, x in events if m.id == "g1"]
    assert greet_meta["langgraph_step"] == 1  # step 0 applies the input
    assert greet_meta.keys() == meta.keys()


def test_get_config_reports_the_running_step_and_task_namespace() -> None:
    seen: list[dict[str, Any]] = []

    def node(state: MessagesState) -> dict[str, Any]:
        seen.append(get_config()["metadata"])
        return {}

    graph = chat_graph(("a", node), ("b", node))
    graph.invoke({"messages": []}, {"metadata": {"user": "ada"}})
    assert [m["langgraph_step"] for m in seen] == [1, 2]
    assert [m["langgraph_checkpoint_ns"].split(":")[0] for m in seen] == ["a", "b"]
    assert seen[0]["user"] == "ada"


def test_message_writer_adds_extra_metadata() -> None:
    def bot(state: MessagesState) -> dict[str, Any]:
        get_message_writer()(AIMessageChunk(content="x", id="c1"), {"model": "m"})
        return {}

    [(chunk, meta)] = list(
        chat_graph(("bot", bot)).stream({"messages": []}, stream_mode="messages")
    )
    assert chunk.content == "x"
    assert meta["model"] == "m"
    assert meta["langgraph_node"] == "bot"


def test_message_writer_is_disabled_outside_a_messages_stream() -> None:
    enabled: list[bool] = []

    def bot(state: MessagesState) -> dict[str, Any]:
        write = get_message_writer()
        enabled.append(write.enabled)
        write(AIMessageChunk(content="lost", id="c1"))
        return {}

    graph = chat_graph(("bot", bot))
    assert list(graph.stream({"messages": []}, stream_mode=["updates", "custom"])) == [
        ("updates", {"bot": None})
    ]
    graph.invoke({"messages": []})
    assert enabled == [False, False]
    assert get_message_writer().enabled is False
    get_message_writer()(AIMessageChunk(content="outside a node"))  # does nothing


def test_message_writer_streams_from_async_nodes() -> None:
    async def bot(state: MessagesState) -> dict[str, Any]:
        write = get_message_writer()
        write(AIMessageChunk(content="a", id="r1"))
        await asyncio.sleep(0)
        write(AIMessageChunk(content="b", id="r1"))
        return {"messages": [AIMessage(content="ab", id="r1")]}

    async def collect() -> list[Any]:
        graph = chat_graph(("bot", bot))
        return [
            e async for e in graph.astream({"messages": []}, stream_mode="messages")
        ]

    events = asyncio.run(collect())
    assert [(type(m).__name__, m.content) for m, _ in events] == [
        ("AIMessageChunk", "a"),
        ("AIMessageChunk", "b"),
    ]
    assert events[0][1]["langgraph_step"] == 1


# -- a streamed message is not sent again ------------------------------------------


def test_a_message_streamed_as_chunks_is_not_sent_again() -> None:
    graph = chat_graph(
        ("bot", streaming_bot("r1")), ("quiet", streaming_bot("r2", stream=False))
    )
    events = list(
        graph.stream({"messages": [HumanMessage("hi")]}, stream_mode="messages")
    )
    assert [(type(m).__name__, m.id, m.content) for m, _ in events] == [
        ("AIMessageChunk", "r1", "hel"),
        ("AIMessageChunk", "r1", "lo"),
        ("AIMessage", "r2", "hello"),  # not streamed: sent whole, once
    ]


def test_messages_already_in_the_state_are_not_sent_again(thread) -> None:
    def echo_all(state: MessagesState) -> dict[str, Any]:
        # returns the whole conversation (same ids) plus one new message
        return {"messages": [*state["messages"], AIMessage(content="new", id="n1")]}

    graph = chat_graph(
        ("greet", greet), ("echo", echo_all), checkpointer=InMemorySaver()
    )
    events = list(
        graph.stream(
            {"messages": [HumanMessage("hi", id="h1")]}, thread, stream_mode="messages"
        )
    )
    assert [m.id for m, _ in events] == ["g1", "n1"]


def test_the_parent_does_not_resend_a_message_streamed_in_a_subgraph() -> None:
    child = chat_graph(("bot", streaming_bot("r1")))
    parent = chat_graph(("agent", child))
    events = list(
        parent.stream({"messages": []}, stream_mode="messages", subgraphs=True)
    )
    assert [(ns[0].split(":")[0], type(m).__name__) for ns, (m, _) in events] == [
        ("agent", "AIMessageChunk"),
        ("agent", "AIMessageChunk"),
    ]
    meta = events[0][1][1]
    outer, inner = meta["langgraph_checkpoint_ns"].split("|")
    assert outer == events[0][0][0]
    assert inner.startswith("bot:")


def test_subgraph_updates_of_every_step_reach_the_stream() -> None:
    child = StateGraph(Counter)
    child.add_sequence([appender("a"), appender("b")])
    child.add_edge(START, "a")
    parent = StateGraph(Counter)
    parent.add_node("sub", child.compile())
    parent.add_edge(START, "sub")
    events = list(parent.compile().stream({"n": 0}, subgraphs=True))
    assert [(len(ns), list(update)) for ns, update in events] == [
        (1, ["a"]),
        (1, ["b"]),
        (0, ["sub"]),
    ]


def handshake_graph(released: threading.Event, is_async: bool = False) -> Any:
    """A node that writes a token, then waits (at most 5 s) for the caller to
    have received it: only a live stream lets it see ``released`` set."""

    def wait_for_caller(state: Counter) -> dict[str, Any]:
        return {"log": ["live" if released.wait(5) else "late"]}

    def speak(state: Counter) -> dict[str, Any]:
        get_message_writer()(AIMessageChunk(content="tok", id="m1"))
        get_stream_writer()("progress")
        return wait_for_caller(state)

    async def aspeak(state: Counter) -> dict[str, Any]:
        get_stream_writer()("progress")
        return await asyncio.to_thread(wait_for_caller, state)

    g = StateGraph(Counter)
    g.add_node("speak", aspeak if is_async else speak)
    g.add_edge(START, "speak")
    return g.compile()


def test_chunks_reach_the_caller_while_the_node_runs() -> None:
    released = threading.Event()
    seen = []
    stream = handshake_graph(released).stream(
        {"n": 0}, stream_mode=["messages", "custom", "values"]
    )
    for mode, chunk in stream:
        seen.append((mode, chunk))
        if mode == "custom":
            released.set()
    assert [mode for mode, _ in seen] == ["values", "messages", "custom", "values"]
    assert seen[-1][1]["log"] == ["live"]


def test_async_chunks_reach_the_caller_while_the_node_runs() -> None:
    released = threading.Event()

    async def main() -> list[Any]:
        chunks = []
        graph = handshake_graph(released, is_async=True)
        async for mode, chunk in graph.astream(
            {"n": 0}, stream_mode=["custom", "values"]
        ):
            chunks.append(chunk)
            if mode == "custom":
                released.set()
        return chunks

    chunks = asyncio.run(main())
    assert chunks[1:] == ["progress", {"n": 0, "log": ["live"]}]


def test_a_caller_that_stops_reading_waits_for_the_running_node() -> None:
    released, finished = threading.Event(), []

    def slow(state: Counter) -> dict[str, Any]:
        get_stream_writer()("started")
        released.wait(5)
        finished.append(True)
        return {}

    g = StateGraph(Counter)
    g.add_node("slow", slow)
    g.add_edge(START, "slow")
    stream = g.compile().stream({"n": 0}, stream_mode="custom")
    assert next(stream) == "started"
    threading.Timer(0.05, released.set).start()
    stream.close()
    assert finished == [True]


_EVENTS_WITHOUT_LANGCHAIN = """
import asyncio, json, operator, sys
from typing import Annotated, TypedDict
from graphs import START, StateGraph

class S(TypedDict):
    log: Annotated[list, operator.add]

g = StateGraph(S)
g.add_node("a", lambda s: {"log": ["a"]})
g.add_edge(START, "a")

async def main():
    return [e async for e in g.compile().astream_events({"log": []})]

seen = asyncio.run(main())
ids = [e["run_id"] for e in seen]
print(json.dumps({
    "events": [(e["event"], e["name"], [ids.index(p) for p in e["parent_ids"]])
               for e in seen],
    "langchain": any(m.startswith("langchain") for m in sys.modules),
}))
"""


def test_astream_events_needs_no_langchain() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _EVENTS_WITHOUT_LANGCHAIN],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["langchain"] is False
    assert [tuple(e) for e in result["events"]] == [
        ("on_chain_start", "LangGraph", []),
        ("on_chain_start", "a", [0]),
        ("on_chain_stream", "a", [0]),
        ("on_chain_end", "a", [0]),
        ("on_chain_stream", "LangGraph", []),
        ("on_chain_end", "LangGraph", []),
    ]
