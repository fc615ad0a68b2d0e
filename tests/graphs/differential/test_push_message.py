"""Differential: ``push_message`` against LangGraph's ``langgraph.graph.message``."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("langgraph")

import langgraph.graph.message as lg_message
from langchain_core.messages import AIMessage, AnyMessage

import graphs.messages as oris_messages

from .test_langchain_messages import OURS, THEIRS, Api, normalise

KEYS = ("langgraph_node", "langgraph_triggers", "langgraph_path")


def push(api: Api) -> Any:
    return oris_messages.push_message if api is OURS else lg_message.push_message


def state(api: Api) -> Any:
    return TypedDict(
        "State",
        {"messages": Annotated[list[AnyMessage], api.add_messages], "n": int},
    )


def view(chunks: list[Any]) -> list[Any]:
    out = []
    for mode, payload in chunks:
        if mode == "messages":
            message, meta = payload
            payload = (message, {k: meta[k] for k in KEYS})
        out.append((mode, payload))
    return out


def compare(scenario: Any) -> Any:
    ours, theirs = normalise(scenario(OURS)), normalise(scenario(THEIRS))
    assert ours == theirs
    return ours


def two_nodes(api: Api, state_key: str | None = "messages") -> Any:
    def first(s: Any) -> dict[str, Any]:
        push(api)(AIMessage("pushed", id="p1"), state_key=state_key)
        return {"n": 1}

    def second(s: Any) -> dict[str, Any]:
        pushed = push(api)(AIMessage("again", id="p2"), state_key=state_key)
        return {"messages": [pushed, AIMessage("returned", id="r")]}

    g = api.StateGraph(state(api))
    g.add_node("first", first)
    g.add_node("second", second)
    g.add_edge(api.START, "first")
    g.add_edge("first", "second")
    return g.compile()


@pytest.mark.parametrize("state_key", ["messages", None])
def test_pushed_messages_stream_at_once_and_are_written(state_key: Any) -> None:
    def scenario(api: Api) -> Any:
        graph = two_nodes(api, state_key)
        modes = ["updates", "messages", "values"]
        return view(list(graph.stream({"messages": [], "n": 0}, stream_mode=modes)))

    chunks = compare(scenario)
    streamed = [p[0][1]["content"] for m, p in chunks if m == "messages"]
    assert streamed == ["pushed", "again", "returned"]  # "again" is not sent twice


def test_push_message_needs_a_node_and_an_id() -> None:
    def scenario(api: Api) -> Any:
        outcomes = []
        try:
            push(api)(AIMessage("outside", id="x"))
        except RuntimeError:
            outcomes.append("RuntimeError")

        def no_id(s: Any) -> None:
            push(api)(AIMessage("no id"))

        g = api.StateGraph(state(api))
        g.add_node("no_id", no_id)
        g.add_edge(api.START, "no_id")
        try:
            g.compile().invoke({"messages": []})
        except ValueError as exc:
            outcomes.append(str(exc))
        return outcomes

    assert compare(scenario) == ["RuntimeError", "Message ID is required"]
