"""The effect ledger on the in-memory saver, and effects outside a ledger."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest

import graphs
from graphs import START, StateGraph
from graphs.checkpoint import InMemorySaver

from .effects_conformance import (
    AsyncEffectLedgerConformance,
    Calls,
    EffectLedgerConformance,
    State,
    thread,
    two_effects_graph,
)


class Fan(TypedDict, total=False):
    v: int
    out: Annotated[list[int], operator.add]


class TestInMemoryEffects(EffectLedgerConformance):
    @pytest.fixture
    def saver(self) -> InMemorySaver:
        return InMemorySaver()


class TestInMemoryAsyncEffects(AsyncEffectLedgerConformance):
    @pytest.fixture
    def saver(self) -> InMemorySaver:
        return InMemorySaver()


def test_effects_run_plainly_without_a_checkpointer() -> None:
    calls = Calls()
    send = graphs.effect(calls.send, name="send")

    def work(state: State) -> State:
        return {"out": [send(state["v"]), send(state["v"])]}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    assert builder.compile().invoke({"v": 1})["out"] == [2, 2]
    assert calls.log == [(1, None), (1, None)]  # no ledger: no key, no answers


def test_effects_of_parallel_tasks_are_recorded_per_task() -> None:
    saver = InMemorySaver()
    calls = Calls()
    send = graphs.effect(calls.send, name="send")

    def fan(state: State) -> Any:
        return [graphs.Send("one", {"v": i}) for i in range(3)]

    def one(arg: dict[str, Any]) -> State:
        return {"out": [send(arg["v"])]}

    builder = StateGraph(Fan)
    builder.add_node("one", one)
    builder.add_conditional_edges(START, fan, ["one"])
    config = thread()
    result = builder.compile(checkpointer=saver).invoke({"v": 0}, config)
    assert sorted(result["out"]) == [0, 2, 4]
    records = saver.list_effects(config["configurable"]["thread_id"])
    assert sorted(r.task_path for r in records) == [
        "__pregel_push|0",
        "__pregel_push|1",
        "__pregel_push|2",
    ]
    assert len({r.key for r in records}) == 3


def test_delete_thread_deletes_its_effects() -> None:
    saver = InMemorySaver()
    calls = Calls()
    config = thread()
    two_effects_graph(calls, []).compile(checkpointer=saver).invoke({"v": 1}, config)
    thread_id = config["configurable"]["thread_id"]
    assert len(saver.list_effects(thread_id)) == 2
    saver.delete_thread(thread_id)
    assert saver.list_effects(thread_id) == []
