"""CompiledGraph.run for the runtime: statuses, trace, step_hook, durability."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from graphs import START, Command, RunResult, StateGraph, interrupt
from graphs.checkpoint import BaseCheckpointSaver, InMemorySaver

from .conftest import Counter, appender


class RecordingSaver(InMemorySaver):
    """Logs every call so tests can check what was written, and when."""

    def __init__(self, fail_on_put: int | None = None) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.fail_on_put = fail_on_put

    def put(
        self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any
    ) -> Any:
        self.calls.append(f"put:{metadata['step']}")
        if self.fail_on_put is not None and metadata["step"] == self.fail_on_put:
            raise ConnectionError("database went away")
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self, config: Any, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        self.calls.append("put_writes")
        super().put_writes(config, writes, task_id, task_path)


def chain(saver: Any = None) -> Any:
    g = StateGraph(Counter)
    g.add_sequence([appender("a"), appender("b"), appender("c")])
    g.add_edge(START, "a")
    return g.compile(checkpointer=saver)


def test_run_completes_with_state_trace_and_checkpoint(thread: dict[str, Any]) -> None:
    result = chain(InMemorySaver()).run({"n": 0}, thread)
    assert isinstance(result, RunResult)
    assert result.status == "completed"
    assert result.state == {"n": 0, "log": ["a", "b", "c"]}
    assert result.checkpoint_id
    assert result.error is None
    kinds = [(e["kind"], e.get("node"), e["step"]) for e in result.trace]
    assert kinds == [
        ("node_started", "a", 1),  # step 0 applies the input (START)
        ("node_completed", "a", 1),
        ("node_started", "b", 2),
        ("node_completed", "b", 2),
        ("node_started", "c", 3),
        ("node_completed", "c", 3),
    ]
    assert all(
        e["duration_ms"] >= 0 for e in result.trace if e["kind"] == "node_completed"
    )
    json.dumps(result.trace)


def test_run_reports_a_node_failure_without_raising() -> None:
    def boom(state: Counter) -> dict[str, Any]:
        raise RuntimeError("kaput")

    g = StateGraph(Counter)
    g.add_node("boom", boom)
    g.add_edge(START, "boom")
    result = g.compile().run({"n": 0})
    assert result.status == "failed"
    assert isinstance(result.error, RuntimeError)
    assert result.trace[-1]["kind"] == "error"
    assert result.trace[-1]["node"] == "boom"


def test_run_reports_interrupts_and_resume(thread: dict[str, Any]) -> None:
    g = StateGraph(Counter)
    g.add_node("ask", lambda s: {"log": [interrupt("approve?")]})
    g.add_edge(START, "ask")
    graph = g.compile(checkpointer=InMemorySaver())
    paused = graph.run({"n": 0}, thread)
    assert paused.status == "interrupted"
    [intr] = paused.interrupts
    assert intr.value == "approve?"
    assert [e["kind"] for e in paused.trace] == ["node_started", "interrupt_reached"]
    assert paused.trace[1]["interrupt_id"] == intr.id
    done = graph.run(Command(resume="yes"), thread)
    assert done.status == "completed"
    assert done.state["log"] == ["yes"]
    assert done.trace[0]["kind"] == "resume_received"


def test_run_continues_from_the_checkpoint_with_none(thread: dict[str, Any]) -> None:
    graph = chain(InMemorySaver())
    assert graph.run({"n": 0}, thread, interrupt_before=["b"]).status == "interrupted"
    assert graph.run(None, thread).state["log"] == ["a", "b", "c"]


def test_one_put_per_superstep_and_no_put_writes_on_success(
    thread: dict[str, Any],
) -> None:
    saver = RecordingSaver()
    chain(saver).run({"n": 0}, thread)
    assert saver.calls == ["put:-1", "put:0", "put:1", "put:2", "put:3"]


def test_step_hook_runs_after_each_commit(thread: dict[str, Any]) -> None:
    saver = RecordingSaver()
    seen: list[tuple[int, list[str]]] = []
    chain(saver).run(
        {"n": 0}, thread, step_hook=lambda s: seen.append((s, list(saver.calls)))
    )
    assert [s for s, _ in seen] == [0, 1, 2, 3]
    assert seen[0][1][-1] == "put:0"
    assert seen[3][1][-1] == "put:3"


def test_step_hook_errors_propagate_and_stop_all_writes(thread: dict[str, Any]) -> None:
    class Cancelled(Exception):
        pass

    saver = RecordingSaver()

    def hook(step: int) -> None:
        if step == 0:
            raise Cancelled

    with pytest.raises(Cancelled):
        chain(saver).run({"n": 0}, thread, step_hook=hook)
    assert saver.calls == ["put:-1", "put:0"]


def test_saver_errors_propagate_unchanged(thread: dict[str, Any]) -> None:
    saver = RecordingSaver(fail_on_put=1)
    with pytest.raises(ConnectionError, match="went away"):
        chain(saver).run({"n": 0}, thread)
    assert saver.calls == ["put:-1", "put:0", "put:1"]


def test_exit_durability_writes_once_at_the_end(thread: dict[str, Any]) -> None:
    saver = RecordingSaver()
    out = chain(saver).invoke({"n": 0}, thread, durability="exit")
    assert out["log"] == ["a", "b", "c"]
    assert saver.calls == ["put:3"]
    assert chain(saver).get_state(thread).values == out


def test_exit_durability_persists_the_paused_checkpoint(thread: dict[str, Any]) -> None:
    saver = RecordingSaver()
    g = StateGraph(Counter)
    g.add_node("a", appender("a"))
    g.add_node("ask", lambda s: {"log": [interrupt("q")]})
    g.add_edge(START, "a")
    g.add_edge("a", "ask")
    graph = g.compile(checkpointer=saver)
    graph.invoke({"n": 0}, thread, durability="exit")
    assert saver.calls == ["put:1", "put_writes"]
    assert graph.invoke(Command(resume="r"), thread)["log"] == ["a", "r"]


def test_async_durability_writes_every_checkpoint(thread: dict[str, Any]) -> None:
    saver = RecordingSaver()
    chain(saver).invoke({"n": 0}, thread, durability="async")
    assert saver.calls == ["put:-1", "put:0", "put:1", "put:2", "put:3"]


class WriterThreadSaver(InMemorySaver):
    """The base class's ``async`` puts: on the writer thread."""

    put_async = BaseCheckpointSaver.put_async
    aput_async = BaseCheckpointSaver.aput_async

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def put(
        self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any
    ) -> Any:
        self.threads.append(threading.current_thread().name)
        return super().put(config, checkpoint, metadata, new_versions)


@pytest.mark.parametrize("runner", ["invoke", "ainvoke"])
def test_async_durability_is_the_default_and_done_before_the_call_returns(
    thread: dict[str, Any], runner: str
) -> None:
    saver = WriterThreadSaver()
    graph = chain(saver)
    if runner == "invoke":
        graph.invoke({"n": 0}, thread)
        assert {name[:18] for name in saver.threads} == {"graphs-durability_"}
    else:
        asyncio.run(graph.ainvoke({"n": 0}, thread))
    assert len(saver.threads) == 5
    assert graph.get_state(thread).values["log"] == ["a", "b", "c"]
    graph.invoke({"n": 0}, {"configurable": {"thread_id": "s"}}, durability="sync")
    assert saver.threads[-5:] == [threading.current_thread().name] * 5


def test_with_checkpointer_shares_structure_and_binds_a_saver(
    thread: dict[str, Any],
) -> None:
    base = chain()
    saver = InMemorySaver()
    bound = base.with_checkpointer(saver)
    assert bound.nodes_rt is base.nodes_rt
    assert base.checkpointer is None
    bound.invoke({"n": 0}, thread)
    assert bound.get_state(thread).values["log"] == ["a", "b", "c"]
    assert bound.get_graph().draw_mermaid() == base.get_graph().draw_mermaid()


def test_run_reports_recursion_and_invalid_updates_as_failures() -> None:
    from graphs import GraphRecursionError, InvalidUpdateError

    loop = StateGraph(Counter)
    loop.add_node("again", appender("again"))
    loop.add_edge(START, "again")
    loop.add_edge("again", "again")
    result = loop.compile().run({"n": 0}, {"recursion_limit": 3})
    assert result.status == "failed"
    assert isinstance(result.error, GraphRecursionError)
    assert result.trace[-1]["kind"] == "error"

    clash = StateGraph(Counter)
    clash.add_node("a", lambda s: {"n": 1})
    clash.add_node("b", lambda s: {"n": 2})
    clash.add_edge(START, "a")
    clash.add_edge(START, "b")
    result = clash.compile().run({"n": 0})
    assert result.status == "failed"
    assert isinstance(result.error, InvalidUpdateError)
