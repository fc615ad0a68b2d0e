"""interrupt(), resume shapes, static breakpoints; only the paused node re-runs."""

from __future__ import annotations

import asyncio
from collections import Counter as Tally
from typing import Any

import pytest

from graphs import (
    START,
    Command,
    EmptyInputError,
    Interrupt,
    StateGraph,
    interrupt,
)
from graphs.checkpoint import InMemorySaver

from .conftest import Counter, appender


def counting(label: str, calls: Tally[str]) -> Any:
    def node(state: Counter) -> dict[str, Any]:
        calls[label] += 1
        return {"log": [label]}

    return node


def test_paused_invoke_returns_state_with_interrupts(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("ask", lambda s: {"log": [interrupt({"question": "name?"})]})
    g.add_edge(START, "ask")
    out = g.compile(checkpointer=memory).invoke({"n": 0}, thread)
    assert out["n"] == 0
    [intr] = out["__interrupt__"]
    assert isinstance(intr, Interrupt)
    assert intr.value == {"question": "name?"}
    assert intr.id


def test_several_interrupts_in_one_node_resume_in_order(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    runs = Tally[str]()

    def ask(state: Counter) -> dict[str, Any]:
        runs["ask"] += 1
        first = interrupt("first")
        second = interrupt("second")
        return {"log": [first, second]}

    g = StateGraph(Counter)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    graph = g.compile(checkpointer=memory)
    first = graph.invoke({"n": 0}, thread)["__interrupt__"][0]
    second = graph.invoke(Command(resume="A"), thread)["__interrupt__"][0]
    assert (first.value, second.value) == ("first", "second")
    assert first.id != second.id
    assert graph.invoke(Command(resume="B"), thread) == {"n": 0, "log": ["A", "B"]}
    assert runs["ask"] == 3


def test_only_the_interrupted_node_reruns_on_resume(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    calls = Tally[str]()

    def ask(state: Counter) -> dict[str, Any]:
        calls["ask"] += 1
        return {"log": [interrupt("ok?")]}

    g = StateGraph(Counter)
    g.add_node("before", counting("before", calls))
    g.add_node("sibling", counting("sibling", calls))
    g.add_node("ask", ask)
    g.add_node("after", counting("after", calls))
    g.add_edge(START, "before")
    g.add_edge("before", "sibling")
    g.add_edge("before", "ask")
    g.add_edge("ask", "after")
    graph = g.compile(checkpointer=memory)
    graph.invoke({"n": 0}, thread)
    out = graph.invoke(Command(resume="yes"), thread)
    assert out["log"] == ["before", "yes", "sibling", "after"]  # by task path
    assert calls == {"before": 1, "sibling": 1, "ask": 2, "after": 1}


def test_parallel_interrupts_resume_with_an_id_map(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"log": [("a", interrupt("qa"))]})
    g.add_node("b", lambda s: {"log": [("b", interrupt("qb"))]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    graph = g.compile(checkpointer=memory)
    pending = graph.invoke({"n": 0}, thread)["__interrupt__"]
    assert sorted(i.value for i in pending) == ["qa", "qb"]
    with pytest.raises(RuntimeError, match="interrupt id"):
        graph.invoke(Command(resume="ambiguous"), thread)
    ids = {i.value: i.id for i in pending}
    out = graph.invoke(Command(resume={ids["qa"]: 1, ids["qb"]: 2}), thread)
    assert out["log"] == [("a", 1), ("b", 2)]


def test_parallel_interrupts_resume_one_at_a_time(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"log": [interrupt("qa")]})
    g.add_node("b", lambda s: {"log": [interrupt("qb")]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    graph = g.compile(checkpointer=memory)
    ids = {i.value: i.id for i in graph.invoke({"n": 0}, thread)["__interrupt__"]}
    out = graph.invoke(Command(resume={ids["qa"]: "A"}), thread)
    assert [i.value for i in out["__interrupt__"]] == ["qb"]
    out = graph.invoke(Command(resume={ids["qb"]: "B"}), thread)
    assert out["log"] == ["A", "B"]


def test_interrupt_ids_are_unique_across_runs(memory: InMemorySaver) -> None:
    g = StateGraph(Counter)
    g.add_node("ask", lambda s: {"log": [interrupt("q")]})
    g.add_edge(START, "ask")
    graph = g.compile(checkpointer=memory)
    ids = {
        graph.invoke({"n": 0}, {"configurable": {"thread_id": t}})["__interrupt__"][
            0
        ].id
        for t in ("x", "y", "z")
    }
    assert len(ids) == 3


def test_interrupt_before_and_after_pause_the_run(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), appender("b"), appender("c")])
    g.add_edge(START, "a")
    graph = g.compile(
        checkpointer=memory, interrupt_before=["b"], interrupt_after=["b"]
    )
    assert graph.invoke({"n": 0}, thread) == {"n": 0, "log": ["a"]}
    assert graph.get_state(thread).next == ("b",)
    assert graph.invoke(None, thread)["log"] == ["a", "b"]
    assert graph.get_state(thread).next == ("c",)
    assert graph.invoke(None, thread)["log"] == ["a", "b", "c"]


def test_breakpoints_can_be_given_at_invoke(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), appender("b")])
    g.add_edge(START, "a")
    graph = g.compile(checkpointer=memory)
    assert graph.invoke({"n": 0}, thread, interrupt_before=["b"])["log"] == ["a"]
    assert graph.invoke(None, thread)["log"] == ["a", "b"]


@pytest.mark.parametrize("entry", ["invoke", "ainvoke"])
def test_breakpoints_at_invoke_hold_with_a_streaming_mode(
    memory: InMemorySaver, thread: dict[str, Any], entry: str
) -> None:
    # ainvoke with a stream_mode other than "values" once dropped the breakpoints
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), appender("b")])
    g.add_edge(START, "a")
    graph = g.compile(checkpointer=memory)
    options: dict[str, Any] = {"stream_mode": "updates", "interrupt_before": ["b"]}
    if entry == "invoke":
        chunks = graph.invoke({"n": 0}, thread, **options)
    else:
        chunks = asyncio.run(graph.ainvoke({"n": 0}, thread, **options))
    assert chunks == [{"a": {"log": ["a"]}}, {"__interrupt__": ()}]
    assert graph.get_state(thread).next == ("b",)


def test_resume_without_a_checkpoint_is_an_error(memory: InMemorySaver) -> None:
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_edge(START, "a")
    graph = g.compile(checkpointer=memory)
    with pytest.raises(EmptyInputError):
        graph.invoke(Command(resume=1), {"configurable": {"thread_id": "none"}})


def test_new_input_on_a_paused_thread_starts_a_new_run(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("ask", lambda s: {"log": [interrupt("q")]})
    g.add_edge(START, "ask")
    graph = g.compile(checkpointer=memory)
    graph.invoke({"n": 1}, thread)
    out = graph.invoke({"n": 2}, thread)
    assert out["n"] == 2
    assert len(out["__interrupt__"]) == 1


def test_interrupt_works_without_a_checkpointer() -> None:
    g = StateGraph(Counter)
    g.add_node("ask", lambda s: {"log": [interrupt("q")]})
    g.add_edge(START, "ask")
    out = g.compile().invoke({"n": 0})
    assert out["__interrupt__"][0].value == "q"


def test_raising_graph_interrupt_directly_pauses_the_run(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    from graphs import GraphInterrupt

    def stop(state: Counter) -> dict[str, Any]:
        raise GraphInterrupt()

    g = StateGraph(Counter)
    g.add_node("stop", stop)
    g.add_edge(START, "stop")
    result = g.compile(checkpointer=memory).run({"n": 0}, thread)
    assert result.status == "interrupted"
    assert result.interrupts == []


def test_values_stream_reports_interrupts(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("ask", lambda s: {"log": [interrupt("q")]})
    g.add_edge(START, "ask")
    chunks = list(
        g.compile(checkpointer=memory).stream({"n": 0}, thread, stream_mode="values")
    )
    assert chunks[-1]["__interrupt__"][0].value == "q"


def test_send_tasks_keep_their_argument_across_interrupts(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    from graphs import Send

    def review(arg: dict[str, Any]) -> dict[str, Any]:
        return {"log": [(arg["item"], interrupt(f"ok {arg['item']}?"))]}

    g = StateGraph(Counter)
    g.add_node("review", review)
    g.add_conditional_edges(
        START, lambda s: [Send("review", {"item": i}) for i in "xyz"]
    )
    graph = g.compile(checkpointer=memory)
    pending = graph.invoke({"n": 0}, thread)["__interrupt__"]
    assert [i.value for i in pending] == ["ok x?", "ok y?", "ok z?"]
    answers = {i.id: i.value.upper() for i in pending}
    out = graph.invoke(Command(resume=answers), thread)
    assert out["log"] == [("x", "OK X?"), ("y", "OK Y?"), ("z", "OK Z?")]


def test_async_interrupt_and_resume(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    import asyncio

    async def ask(state: Counter) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"log": [interrupt("async?")]}

    g = StateGraph(Counter)
    g.add_node("ask", ask)
    g.add_node("after", appender("after"))
    g.add_edge(START, "ask")
    g.add_edge("ask", "after")
    graph = g.compile(checkpointer=memory)

    async def scenario() -> Any:
        first = await graph.ainvoke({"n": 0}, thread)
        assert first["__interrupt__"][0].value == "async?"
        return await graph.ainvoke(Command(resume="yes"), thread)

    assert asyncio.run(scenario())["log"] == ["yes", "after"]


def test_interrupt_ids_differ_between_supersteps_without_a_saver() -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"log": [interrupt("q")]})
    g.add_edge(START, "a")
    graph = g.compile()
    first = graph.invoke({"n": 0})["__interrupt__"][0].id
    second = graph.invoke({"n": 0})["__interrupt__"][0].id
    assert first != second
