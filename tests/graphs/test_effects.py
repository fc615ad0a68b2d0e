"""The effect ledger on the in-memory saver, and effects outside a ledger."""

from __future__ import annotations

import json
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


def stored_record(request: Any, response: Any = "ok") -> graphs.effects.EffectRecord:
    """A record as a saver reads it back: request and response as stored text."""
    return graphs.effects.EffectRecord(
        key="k",
        thread_id="t",
        checkpoint_ns="",
        checkpoint_id="c",
        task_id="task",
        task_path="p",
        step=1,
        index=0,
        kind="tool",
        name="charge",
        request_json=json.dumps(request),
        response_json=json.dumps(response),
    )


def test_a_stored_record_decodes_its_request_and_response_when_read() -> None:
    record = stored_record({"amount": 1, "to": "ann"}, {"paid": True})
    assert record.request == {"amount": 1, "to": "ann"}
    assert record.response == {"paid": True}
    assert record == copy_from_values(record)
    assert "request={'amount': 1" in repr(record)
    with pytest.raises(AttributeError):
        record.kind = "model"  # type: ignore[misc]


def copy_from_values(
    record: graphs.effects.EffectRecord,
) -> graphs.effects.EffectRecord:
    """The same record built from values (as the ledger records one)."""
    return graphs.effects.EffectRecord(
        key=record.key,
        thread_id=record.thread_id,
        checkpoint_ns=record.checkpoint_ns,
        checkpoint_id=record.checkpoint_id,
        task_id=record.task_id,
        task_path=record.task_path,
        step=record.step,
        index=record.index,
        kind=record.kind,
        name=record.name,
        request=record.request,
        response=record.response,
    )


def test_a_stored_request_matches_the_same_call_by_text_or_by_value() -> None:
    record = stored_record({"amount": 1, "to": "ann"})
    assert record.matches("tool", "charge", {"amount": 1, "to": "ann"})
    # other key order: other text, same request
    assert record.matches("tool", "charge", {"to": "ann", "amount": 1})
    # same text length, other content
    assert not record.matches("tool", "charge", {"amount": 2, "to": "ann"})
    assert not record.matches("tool", "charge", {"amount": 1, "to": "bob"})
    assert not record.matches("tool", "refund", {"amount": 1, "to": "ann"})
    assert not record.matches("model", "charge", {"amount": 1, "to": "ann"})


def test_a_record_needs_a_request() -> None:
    with pytest.raises(TypeError, match="request"):
        graphs.effects.EffectRecord(
            key="k",
            thread_id="t",
            checkpoint_ns="",
            checkpoint_id="c",
            task_id="task",
            task_path="p",
            step=1,
            index=0,
            kind="tool",
            name="charge",
        )
