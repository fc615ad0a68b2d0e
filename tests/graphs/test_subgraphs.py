"""Subgraphs as nodes: state flows in and out, interrupts propagate and resume."""

from __future__ import annotations

import operator
import time
from collections import Counter as Tally
from typing import Annotated, Any, TypedDict

from graphs import START, Command, Send, StateGraph, interrupt
from graphs.checkpoint import InMemorySaver

from .conftest import Counter, appender


class Fan(TypedDict):
    log: Annotated[list[int], operator.add]


def build_parent(child: Any, calls: Tally[str] | None = None) -> StateGraph:
    parent = StateGraph(Counter)

    def pre(state: Counter) -> dict[str, Any]:
        if calls is not None:
            calls["pre"] += 1
        return {"n": state["n"] + 1}

    parent.add_node("pre", pre)
    parent.add_node("child", child)
    parent.add_node("post", appender("post"))
    parent.add_edge(START, "pre")
    parent.add_edge("pre", "child")
    parent.add_edge("child", "post")
    return parent


def test_a_subgraph_runs_as_a_node() -> None:
    child = StateGraph(Counter)
    child.add_node("inner", lambda s: {"n": s["n"] * 10})
    child.add_edge(START, "inner")
    out = build_parent(child.compile()).compile().invoke({"n": 1})
    assert out == {"n": 20, "log": ["post"]}


def test_interrupts_in_a_subgraph_propagate_and_resume(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    calls = Tally[str]()

    def ask(state: Counter) -> dict[str, Any]:
        calls["ask"] += 1
        return {"log": [interrupt("child question")]}

    child = StateGraph(Counter)
    child.add_node("warmup", lambda s: calls.update(["warmup"]) or {"n": s["n"]})
    child.add_node("ask", ask)
    child.add_edge(START, "warmup")
    child.add_edge("warmup", "ask")
    graph = build_parent(child.compile(), calls).compile(checkpointer=memory)
    out = graph.invoke({"n": 0}, thread)
    assert [i.value for i in out["__interrupt__"]] == ["child question"]
    assert graph.get_state(thread).next == ("child",)
    out = graph.invoke(Command(resume="answer"), thread)
    assert out["log"] == ["answer", "post"]
    assert calls == {"pre": 1, "warmup": 1, "ask": 2}


def test_subgraph_interrupts_resume_by_id(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    child = StateGraph(Counter)
    child.add_node("ask", lambda s: {"log": [interrupt("a"), interrupt("b")]})
    child.add_edge(START, "ask")
    graph = build_parent(child.compile()).compile(checkpointer=memory)
    first = graph.invoke({"n": 0}, thread)["__interrupt__"][0]
    second = graph.invoke(Command(resume={first.id: 1}), thread)["__interrupt__"][0]
    assert second.value == "b"
    assert graph.invoke(Command(resume={second.id: 2}), thread)["log"] == [1, 2, "post"]


def test_command_parent_updates_and_routes_in_the_parent() -> None:
    child = StateGraph(Counter)
    child.add_node(
        "escape",
        lambda s: Command(
            graph=Command.PARENT, update={"log": ["escaped"]}, goto="post"
        ),
    )
    child.add_edge(START, "escape")
    parent = StateGraph(Counter)
    parent.add_node("child", child.compile())
    parent.add_node("post", appender("post"))
    parent.add_edge(START, "child")
    assert parent.compile().invoke({"n": 0})["log"] == ["escaped", "post"]


def test_subgraphs_stream_with_namespaces() -> None:
    child = StateGraph(Counter)
    child.add_node("inner", appender("inner"))
    child.add_edge(START, "inner")
    graph = build_parent(child.compile()).compile()
    chunks = list(graph.stream({"n": 0}, stream_mode="updates", subgraphs=True))
    namespaces = [ns for ns, _ in chunks]
    assert namespaces[0] == ()
    assert any(ns and ns[0].startswith("child:") for ns in namespaces)
    assert ((), {"post": {"log": ["post"]}}) in chunks
    plain = list(graph.stream({"n": 0}, stream_mode="updates"))
    assert all("inner" not in chunk for chunk in plain)


def test_command_parent_outside_a_subgraph_is_an_invalid_update() -> None:
    import pytest

    from graphs import InvalidUpdateError

    g = StateGraph(Counter)
    g.add_node("a", lambda s: Command(graph=Command.PARENT, goto="a"))
    g.add_edge(START, "a")
    with pytest.raises(InvalidUpdateError, match="outside a subgraph"):
        g.compile().invoke({"n": 0})


def test_async_subgraph_interrupt_and_resume(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    import asyncio

    async def ask(state: Counter) -> dict[str, Any]:
        return {"log": [interrupt("inner")]}

    child = StateGraph(Counter)
    child.add_node("ask", ask)
    child.add_edge(START, "ask")
    graph = build_parent(child.compile()).compile(checkpointer=memory)

    async def scenario() -> Any:
        await graph.ainvoke({"n": 0}, thread)
        return await graph.ainvoke(Command(resume="A"), thread)

    assert asyncio.run(scenario())["log"] == ["A", "post"]


def test_nested_fan_out_larger_than_the_thread_pool_completes() -> None:
    def work(state: Fan) -> dict[str, Any]:
        time.sleep(0.001)
        return {"log": [1]}

    child = StateGraph(Fan)
    for name in "abc":
        child.add_node(name, work)
        child.add_edge(START, name)
    parent = StateGraph(Fan)
    parent.add_node("sub", child.compile())
    parent.add_conditional_edges(
        START, lambda s: [Send("sub", {"log": []}) for _ in range(60)]
    )
    assert len(parent.compile().invoke({"log": []})["log"]) == 180


def test_a_graph_invoked_in_a_node_on_a_thread_of_its_own_runs_apart(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    # a kept difference from LangGraph (docs/graphs.md): naming another thread
    # runs the graph apart, so its interrupt comes back as its result
    inner = StateGraph(Counter)
    inner.add_node("ask", lambda s: {"log": [interrupt("q")]})
    inner.add_edge(START, "ask")
    apart = inner.compile(checkpointer=InMemorySaver())
    seen: list[Any] = []

    def node(state: Counter) -> dict[str, Any]:
        out = apart.invoke({"n": 0}, {"configurable": {"thread_id": "elsewhere"}})
        seen.append(out["__interrupt__"][0].value)
        return {"log": ["done"]}

    outer = StateGraph(Counter)
    outer.add_node("node", node)
    outer.add_edge(START, "node")
    assert outer.compile(checkpointer=memory).invoke({"n": 0}, thread)["log"] == [
        "done"
    ]
    assert seen == ["q"]
