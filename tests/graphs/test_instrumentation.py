"""graphs/instrumentation.py: the listener hears every superstep and node."""

from __future__ import annotations

import dataclasses
import operator
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypedDict

import pytest

from graphs import END, START, Command, RetryPolicy, Send, StateGraph, interrupt
from graphs.checkpoint import InMemorySaver
from graphs.instrumentation import (
    Listeners,
    NodeStart,
    SuperstepStart,
    get_listener,
    node_start_of,
    set_listener,
    superstep_start_of,
)


class State(TypedDict, total=False):
    trail: Annotated[list[str], operator.add]


class Recorder:
    """Records every call, with the thread that made it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.steps: list[SuperstepStart] = []
        self.nodes: list[NodeStart] = []

    def superstep_start(self, start: SuperstepStart) -> Any:
        with self.lock:
            self.steps.append(start)
            self.events.append(("step", start.step))
        return f"step-{start.graph}-{start.step}"

    def superstep_end(self, handle, *, error, interrupted) -> None:
        with self.lock:
            self.events.append(("step_end", (handle, repr(error), interrupted)))

    def node_start(self, start: NodeStart) -> Any:
        with self.lock:
            self.nodes.append(start)
        return f"node-{start.node}-{start.attempt}"

    def node_end(self, handle, *, error, interrupted) -> None:
        with self.lock:
            self.events.append(("node_end", (handle, repr(error), interrupted)))


@contextmanager
def listening(install: Callable[[Any], Any], listener: Any) -> Iterator[Any]:
    """``listener`` installed by ``install`` (a ``set_listener``) in the block."""
    previous = install(listener)
    try:
        yield listener
    finally:
        install(previous)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    with listening(set_listener, Recorder()) as recorder:
        yield recorder


def visit(name: str):
    def node(state: State) -> dict[str, Any]:
        return {"trail": [name]}

    return node


def test_each_superstep_and_node_is_heard_with_its_parent(recorder) -> None:
    graph = StateGraph(State)
    graph.add_node("a", visit("a"))
    graph.add_node("b", visit("b"))
    graph.add_node("c", visit("c"))
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("a", "c")
    graph.add_edge(["b", "c"], END)
    out = graph.compile(name="fan").invoke({"trail": []})
    assert sorted(out["trail"]) == ["a", "b", "c"]

    assert [(s.step, s.nodes) for s in recorder.steps] == [
        (0, ()),  # the input superstep: its __start__ task is not a node span
        (1, ("a",)),
        (2, ("b", "c")),
    ]
    assert {s.graph for s in recorder.steps} == {"fan"}
    parents = {n.node: (n.step, n.parent) for n in recorder.nodes}
    assert parents == {
        "a": (1, "step-fan-1"),
        "b": (2, "step-fan-2"),
        "c": (2, "step-fan-2"),
    }
    ends = [e for e in recorder.events if e[0] == "step_end"]
    assert [e[1] for e in ends] == [
        ("step-fan-0", "None", False),
        ("step-fan-1", "None", False),
        ("step-fan-2", "None", False),
    ]


def test_a_failed_node_and_its_retries_are_heard(recorder) -> None:
    calls = []

    def flaky(state: State) -> dict[str, Any]:
        calls.append(1)
        if len(calls) < 2:
            raise ValueError("first try fails")
        return {"trail": ["flaky"]}

    def broken(state: State) -> dict[str, Any]:
        raise KeyError("always")

    graph = StateGraph(State)
    graph.add_node(
        "flaky",
        flaky,
        retry_policy=RetryPolicy(initial_interval=0, jitter=False, retry_on=ValueError),
    )
    graph.add_node("broken", broken)
    graph.add_edge(START, "flaky")
    graph.add_edge("flaky", "broken")
    with pytest.raises(KeyError):
        graph.compile().invoke({"trail": []})

    assert [(n.node, n.attempt) for n in recorder.nodes] == [
        ("flaky", 1),
        ("flaky", 2),
        ("broken", 1),
    ]
    node_ends = [e[1] for e in recorder.events if e[0] == "node_end"]
    assert node_ends == [
        ("node-flaky-1", "ValueError('first try fails')", False),
        ("node-flaky-2", "None", False),
        ("node-broken-1", "KeyError('always')", False),
    ]
    last_step = [e[1] for e in recorder.events if e[0] == "step_end"][-1]
    assert last_step == ("step-LangGraph-2", "KeyError('always')", False)


def test_an_interrupt_and_its_resume_are_heard(recorder) -> None:
    def ask(state: State) -> dict[str, Any]:
        return {"trail": [interrupt("ok?")]}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    app = graph.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    app.invoke({"trail": []}, config)
    ends = [e[1] for e in recorder.events if e[0] != "step"]
    assert ends[-2:] == [
        ("node-ask-1", "None", True),
        ("step-LangGraph-1", "None", True),
    ]
    assert recorder.steps[-1].thread_id == "t"

    recorder.events.clear()
    assert app.invoke(Command(resume="yes"), config)["trail"] == ["yes"]
    assert [e for e in recorder.events if e[0] == "node_end"] == [
        ("node_end", ("node-ask-1", "None", False))
    ]


def test_sends_and_subgraphs_are_heard_in_their_own_runs(recorder) -> None:
    inner = StateGraph(State)
    inner.add_node("leaf", visit("leaf"))
    inner.add_edge(START, "leaf")
    child = inner.compile(name="child")

    def fan(state: State) -> list[Send]:
        return [Send("worker", {"trail": [str(i)]}) for i in range(3)]

    outer = StateGraph(State)
    outer.add_node("sub", child)
    outer.add_node("worker", visit("w"))
    outer.add_edge(START, "sub")
    outer.add_conditional_edges("sub", fan, ["worker"])
    out = outer.compile(name="parent").invoke({"trail": []})
    assert out["trail"].count("w") == 3

    assert [n.node for n in recorder.nodes if n.graph == "child"] == ["leaf"]
    workers = [n for n in recorder.nodes if n.node == "worker"]
    assert len(workers) == 3
    assert len({n.task_id for n in workers}) == 3
    child_steps = [s for s in recorder.steps if s.graph == "child"]
    assert child_steps
    assert all(s.namespace.startswith("sub:") for s in child_steps)


def test_async_runs_are_heard(recorder) -> None:
    import asyncio

    async def hop(state: State) -> dict[str, Any]:
        return {"trail": ["hop"]}

    graph = StateGraph(State)
    graph.add_node("hop", hop)
    graph.add_node("sync", visit("sync"))
    graph.add_edge(START, "hop")
    graph.add_edge(START, "sync")
    asyncio.run(graph.compile().ainvoke({"trail": []}))
    assert sorted(n.node for n in recorder.nodes) == ["hop", "sync"]
    assert {n.parent for n in recorder.nodes} == {"step-LangGraph-1"}


def test_without_a_listener_nothing_is_called() -> None:
    installed = set_listener(None)  # the runtime's, when Django set up this process
    try:
        assert get_listener() is None
        graph = StateGraph(State)
        graph.add_node("a", visit("a"))
        graph.add_edge(START, "a")
        assert graph.compile().invoke({"trail": []}) == {"trail": ["a"]}
    finally:
        set_listener(installed)


class Declines(Recorder):
    """Observes only the supersteps of ``step``: ``None`` for the others."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def superstep_start(self, start: SuperstepStart) -> Any:
        handle = super().superstep_start(start)
        return handle if start.step == self.step else None


def two_steps() -> Any:
    graph = StateGraph(State)
    graph.add_node("a", visit("a"))
    graph.add_node("b", visit("b"))
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    return graph.compile()


def test_a_superstep_not_observed_tells_nothing_more() -> None:
    declines = Declines(step=2)
    with listening(set_listener, declines):
        assert two_steps().invoke({"trail": []}) == {"trail": ["a", "b"]}
    # asked about every superstep (the input's, a's, b's), told only of b's
    assert [s.step for s in declines.steps] == [0, 1, 2]
    assert [n.node for n in declines.nodes] == ["b"]
    ends = [e for e in declines.events if e[0] != "step"]
    assert ends == [
        ("node_end", ("node-b-1", "None", False)),
        ("step_end", ("step-LangGraph-2", "None", False)),
    ]


def test_listeners_tell_each_listener_with_its_own_handles() -> None:
    everything, only_a = Recorder(), Declines(step=1)
    with listening(set_listener, Listeners(everything, only_a)):
        assert two_steps().invoke({"trail": []}) == {"trail": ["a", "b"]}
    assert [n.node for n in everything.nodes] == ["a", "b"]
    assert [n.parent for n in everything.nodes] == [
        "step-LangGraph-1",
        "step-LangGraph-2",
    ]
    assert [(n.node, n.parent) for n in only_a.nodes] == [("a", "step-LangGraph-1")]
    assert [e for e in only_a.events if e[0] != "step"] == [
        ("node_end", ("node-a-1", "None", False)),
        ("step_end", ("step-LangGraph-1", "None", False)),
    ]
    # nobody observes a superstep: the engine is told its start only
    nobody = Listeners(Declines(step=9), Declines(step=9))
    with listening(set_listener, nobody):
        assert two_steps().invoke({"trail": []}) == {"trail": ["a", "b"]}
    assert all(not each.nodes for each in nobody.listeners)


class CountedListeners(Listeners):
    """``Listeners`` counting the calls the engine makes to it."""

    def __init__(self, *listeners: Any) -> None:
        super().__init__(*listeners)
        self.calls: list[str] = []

    def node_start(self, start: NodeStart) -> Any:
        self.calls.append(f"node_start {start.node}")
        return super().node_start(start)

    def node_end(self, handle, *, error, interrupted) -> None:
        self.calls.append("node_end")
        super().node_end(handle, error=error, interrupted=interrupted)

    def superstep_end(self, handle, *, error, interrupted) -> None:
        self.calls.append("superstep_end")
        super().superstep_end(handle, error=error, interrupted=interrupted)


def test_a_superstep_only_one_listener_observes_is_handed_to_it() -> None:
    everything, only_a = Recorder(), Declines(step=1)
    listeners = CountedListeners(everything, only_a)
    with listening(set_listener, listeners):
        assert two_steps().invoke({"trail": []}) == {"trail": ["a", "b"]}
    # a's superstep is observed by both, through Listeners; b's and the
    # input's by ``everything`` alone, which the engine tells directly
    assert listeners.calls == ["node_start a", "node_end", "superstep_end"]
    assert [n.parent for n in everything.nodes] == [
        "step-LangGraph-1",
        "step-LangGraph-2",
    ]
    assert [e for e in everything.events if e[0] != "step"] == [
        ("step_end", ("step-LangGraph-0", "None", False)),
        ("node_end", ("node-a-1", "None", False)),
        ("step_end", ("step-LangGraph-1", "None", False)),
        ("node_end", ("node-b-1", "None", False)),
        ("step_end", ("step-LangGraph-2", "None", False)),
    ]


def test_nested_listeners_are_one_flat_list() -> None:
    first, second, third = Recorder(), Recorder(), Recorder()
    assert Listeners(Listeners(first, second), third).listeners == (
        first,
        second,
        third,
    )


def test_the_engines_starts_equal_the_dataclasses_and_stay_frozen() -> None:
    step = superstep_start_of("g", "t-1", "ns", 3, ("a", "b"))
    assert step == SuperstepStart(
        graph="g", thread_id="t-1", namespace="ns", step=3, nodes=("a", "b")
    )
    node = node_start_of("g", "a", 3, "task-1", 2, step)
    assert node == NodeStart(
        graph="g", node="a", step=3, task_id="task-1", attempt=2, parent=step
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.attempt = 3  # type: ignore[misc]
