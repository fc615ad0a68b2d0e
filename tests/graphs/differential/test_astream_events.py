"""Differential: ``astream_events(version="v2")`` against LangGraph.

Every event is compared whole (event, name, tags, metadata, data, parent_ids),
with run ids, task ids and message ids renamed by order of first appearance. The
chat model is langchain_core's GenericFakeChatModel (a fresh one per run).
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph")

import langgraph.types as lg_types
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

import graphs

from ._libs import plain
from .test_debug_stream import renamed
from .test_langchain_messages import OURS, THEIRS, Api, normalise


class Log(TypedDict):
    log: Annotated[list[Any], operator.add]


def model(*replies: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(
        messages=iter([AIMessage(r, id=f"reply{i}") for i, r in enumerate(replies)])
    )


def chat_state(api: Api) -> Any:
    return TypedDict(
        "State", {"messages": Annotated[list[AnyMessage], api.add_messages]}
    )


def events(graph: Any, inp: Any, config: Any = None, **kwargs: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [e async for e in graph.astream_events(inp, config, **kwargs)]

    found = asyncio.run(collect())
    for event in found:
        if event["name"] in LANGCHAIN_RUNS:
            # LangChain copies the config's checkpoint_ns into the metadata of
            # its runs: the task's in LangGraph, the run's here (docs/graphs.md)
            event["metadata"].pop("checkpoint_ns", None)
    return found


LANGCHAIN_RUNS = {
    "GenericFakeChatModel",
    "RunnableSequence",
    "ChatPromptTemplate",
    "shout",
    "fragile",
}


def compare(scenario: Any) -> list[Any]:
    ours = renamed(normalise(scenario(OURS)))
    theirs = renamed(normalise(scenario(THEIRS)))
    assert ours == theirs
    return ours


def chat_then_plain(api: Api, sync_model: bool = False) -> Any:
    llm = model("hello there")

    async def bot(state: Any) -> dict[str, Any]:
        return {"messages": [await llm.ainvoke(state["messages"])]}

    def sync_bot(state: Any) -> dict[str, Any]:
        return {"messages": [llm.invoke(state["messages"])]}

    def after(state: Any) -> dict[str, Any]:
        return {"messages": [AIMessage("done", id="d")]}

    g = api.StateGraph(chat_state(api))
    g.add_node("bot", sync_bot if sync_model else bot)
    g.add_node("after", after)
    g.add_edge(api.START, "bot")
    g.add_edge("bot", "after")
    return g.compile(checkpointer=api.InMemorySaver())


CONFIG = {"configurable": {"thread_id": "t"}, "tags": ["mine"], "metadata": {"m": 1}}


@pytest.mark.parametrize("sync_model", [False, True])
def test_graph_node_and_chat_model_events(sync_model: bool) -> None:
    def scenario(api: Api) -> Any:
        graph = chat_then_plain(api, sync_model)
        return events(graph, {"messages": [("user", "hi")]}, CONFIG, version="v2")

    seen = compare(scenario)
    names = [(e["event"], e["name"]) for e in seen]
    assert names[:3] == [
        ("on_chain_start", "LangGraph"),
        ("on_chain_start", "bot"),
        ("on_chat_model_start", "GenericFakeChatModel"),
    ]
    assert ("on_chat_model_stream", "GenericFakeChatModel") in names
    assert names[-1] == ("on_chain_end", "LangGraph")


def test_events_of_subgraphs_and_of_graphs_invoked_in_nodes() -> None:
    def scenario(api: Api) -> Any:
        inner = api.StateGraph(Log)
        inner.add_node("x", lambda s: {"log": ["x"]})
        inner.add_edge(api.START, "x")
        compiled = inner.compile()

        def caller(state: Log) -> Any:
            return compiled.invoke({"log": []})

        g = api.StateGraph(Log)
        g.add_node("sub", compiled)
        g.add_node("caller", caller)
        g.add_edge(api.START, "sub")
        g.add_edge("sub", "caller")
        return events(g.compile(), {"log": []})

    seen = compare(scenario)
    inner_x = [e for e in seen if e["name"] == "x" and e["event"] == "on_chain_start"]
    assert [len(e["parent_ids"]) for e in inner_x] == [3, 3]


@pytest.mark.parametrize(
    "filters",
    [
        {"include_types": ["chat_model"]},
        {"include_names": ["after"], "include_tags": ["seq:step:1"]},
        {"exclude_names": ["bot"], "exclude_types": ["chat_model"]},
        {"exclude_tags": ["mine"]},
    ],
)
def test_event_filters(filters: dict[str, Any]) -> None:
    def scenario(api: Api) -> Any:
        graph = chat_then_plain(api)
        return events(graph, {"messages": [("user", "hi")]}, CONFIG, **filters)

    compare(scenario)


def test_graph_stream_events_carry_the_chosen_stream_modes() -> None:
    def scenario(api: Api) -> Any:
        g = api.StateGraph(Log)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_edge(api.START, "a")
        graph = g.compile()
        return events(graph, {"log": []}, stream_mode=["values", "updates"])

    seen = compare(scenario)
    chunks = [e["data"]["chunk"] for e in seen if e["event"] == "on_chain_stream"]
    assert ("updates", {"a": {"log": ["a"]}}) in chunks


def test_events_of_langchain_runs_inside_a_node() -> None:
    def scenario(api: Api) -> Any:
        llm = model("a reply")
        prompt = ChatPromptTemplate.from_messages(
            [("system", "be brief"), ("human", "{q}")]
        )
        chain = prompt | llm

        @tool
        def shout(text: str) -> str:
            """Shout the text."""
            return text.upper()

        async def node(state: Any) -> dict[str, Any]:
            reply = await chain.ainvoke({"q": "hi"})
            loud = await shout.ainvoke({"text": reply.content})
            return {"messages": [AIMessage(loud, id="loud")]}

        g = api.StateGraph(chat_state(api))
        g.add_node("node", node)
        g.add_edge(api.START, "node")
        return events(g.compile(), {"messages": []}, CONFIG)

    seen = compare(scenario)
    kinds = {e["event"] for e in seen}
    assert {"on_prompt_start", "on_chat_model_end", "on_tool_end"} <= kinds


def test_events_of_a_run_that_pauses_and_resumes() -> None:
    def scenario(api: Api) -> Any:
        interrupt = graphs.interrupt if api is OURS else lg_types.interrupt
        command = graphs.Command if api is OURS else lg_types.Command
        g = api.StateGraph(Log)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_node("ask", lambda s: {"log": [interrupt("why?")]})
        g.add_edge(api.START, "a")
        g.add_edge("a", "ask")
        graph = g.compile(checkpointer=api.InMemorySaver())
        config = {"configurable": {"thread_id": "t"}}
        first = events(graph, {"log": []}, config)
        again = events(graph, command(resume="because"), config)
        resumed = again[0]["data"].pop("input")  # each engine's Command class
        return plain(first), plain(again), resumed.resume

    compare(scenario)


def test_run_gives_the_events_of_astream_events_beside_its_chunks() -> None:
    """``CompiledGraph.run(events=True)`` (what the runtime streams as the Agent
    Server's ``events`` mode): LangGraph's astream_events, among the chunks."""
    chunks: list[Any] = []

    def scenario(api: Api) -> Any:
        graph = chat_then_plain(api, sync_model=True)
        inp = {"messages": [("user", "hi")]}
        if api is THEIRS:
            return events(graph, inp, CONFIG, version="v2", stream_mode=["values"])
        found: list[Any] = []

        def on_chunk(ns: tuple[str, ...], mode: str, payload: Any) -> None:
            (found if mode == "events" else chunks).append(payload)

        result = graph.run(
            inp, CONFIG, stream_mode=["values"], on_chunk=on_chunk, events=True
        )
        assert result.status == "completed"
        for event in found:  # as events() does
            if event["name"] in LANGCHAIN_RUNS:
                event["metadata"].pop("checkpoint_ns", None)
        return found

    seen = compare(scenario)
    assert seen[0]["event"] == "on_chain_start"
    assert seen[-1]["event"] == "on_chain_end"
    assert len(chunks) == 3  # the values chunks still come, beside the events


def test_a_failing_tool_sends_on_tool_error() -> None:
    def scenario(api: Api) -> Any:
        @tool
        def fragile(text: str) -> str:
            """Fail on purpose."""
            raise ValueError(f"cannot {text}")

        async def node(state: Any) -> dict[str, Any]:
            try:
                await fragile.ainvoke({"text": "go"})
            except ValueError as exc:
                return {"messages": [AIMessage(str(exc), id="failed")]}
            return {}

        g = api.StateGraph(chat_state(api))
        g.add_node("node", node)
        g.add_edge(api.START, "node")
        seen = events(g.compile(), {"messages": []}, CONFIG)
        for event in seen:
            if event["event"] == "on_tool_error":
                event["data"]["error"] = repr(event["data"]["error"])
        return seen

    seen = compare(scenario)
    [error] = [e for e in seen if e["event"] == "on_tool_error"]
    assert error["name"] == "fragile"
    assert error["data"] == {
        "error": "ValueError('cannot go')",
        "input": {"text": "go"},
        "tool_call_id": None,
    }


@pytest.mark.parametrize("use_async", [True, False])
def test_a_chain_streamed_inside_a_node_sends_on_chain_stream(use_async: bool) -> None:
    def scenario(api: Api) -> Any:
        llm = model("one two three")
        prompt = ChatPromptTemplate.from_messages([("human", "{q}")])
        chain = prompt | llm

        async def anode(state: Any) -> dict[str, Any]:
            parts = [c.content async for c in chain.astream({"q": "hi"})]
            return {"messages": [AIMessage("".join(parts), id="joined")]}

        def node(state: Any) -> dict[str, Any]:
            parts = [c.content for c in chain.stream({"q": "hi"})]
            return {"messages": [AIMessage("".join(parts), id="joined")]}

        g = api.StateGraph(chat_state(api))
        g.add_node("node", anode if use_async else node)
        g.add_edge(api.START, "node")
        return events(g.compile(), {"messages": []}, CONFIG)

    seen = compare(scenario)
    streamed = [e["name"] for e in seen if e["event"] == "on_chain_stream"]
    assert "RunnableSequence" in streamed


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_sync_stream_events_raises_as_langchain_does(version: str) -> None:
    def scenario(api: Api) -> Any:
        g = api.StateGraph(Log)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_edge(api.START, "a")
        graph = g.compile()
        with pytest.raises(NotImplementedError) as caught:
            list(graph.stream_events({"log": []}, version=version))
        return str(caught.value)

    assert "astream_events()" in compare(scenario)
