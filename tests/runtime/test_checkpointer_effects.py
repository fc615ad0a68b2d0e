"""The Django saver keeps the effect ledger: the graphs conformance suite, and
effects committed in the transaction of the writes they belong to."""

from __future__ import annotations

import pytest

import graphs
from graphs import START, StateGraph
from runtime.checkpointer import DjangoSaver
from runtime.errors import LeaseLost
from runtime.models import Checkpoint, Effect
from runtime.services import claims, leases
from tests.factories import make_job
from tests.graphs.effects_conformance import (
    AsyncEffectLedgerConformance,
    Calls,
    EffectLedgerConformance,
    State,
    thread,
)


class TestDjangoEffects(EffectLedgerConformance):
    @pytest.fixture
    def saver(self, db) -> DjangoSaver:
        return DjangoSaver()


class TestDjangoAsyncEffects(AsyncEffectLedgerConformance):
    # async effects write from threads of their own: committed data, no test
    # transaction
    @pytest.fixture
    def saver(self, transactional_db) -> DjangoSaver:
        return DjangoSaver()


def one_effect_graph(calls: Calls) -> StateGraph:
    send = graphs.effect(calls.send, name="send")

    def work(state: State) -> State:
        return {"out": [send(state["v"])]}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    return builder


@pytest.mark.django_db
def test_an_effect_is_written_with_its_superstep_checkpoint() -> None:
    saver = DjangoSaver()
    calls = Calls()
    seen: list[tuple[int, int]] = []

    def count_rows(step: int) -> None:
        seen.append((step, Effect.objects.count()))

    config = thread()
    graph = one_effect_graph(calls).compile(checkpointer=saver)
    graph.run({"v": 1}, config, step_hook=count_rows)
    # held until the superstep of the task that made it committed (step 1)
    assert seen == [(0, 0), (1, 1)]
    (row,) = Effect.objects.all()
    checkpoint = Checkpoint.objects.get(
        thread_id=row.thread_id, checkpoint_id=row.checkpoint_id
    )
    assert checkpoint.metadata["step"] == 0  # the checkpoint the task ran from
    assert (row.kind, row.name, row.request, row.response) == (
        "function",
        "send",
        {"args": [1], "kwargs": {}},
        2,
    )


@pytest.mark.django_db
def test_an_effect_of_a_run_that_lost_its_lease_is_not_written() -> None:
    job = make_job()
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    assert lease is not None
    saver = DjangoSaver(fence=leases.LeaseFence(lease), new_thread=True)
    calls = Calls()
    graph = one_effect_graph(calls).compile(checkpointer=saver)
    leases.lease_release(lease=lease)  # another worker owns the attempt now
    with pytest.raises(LeaseLost):
        graph.invoke({"v": 1}, {"configurable": {"thread_id": job.thread_id}})
    assert calls.log  # the call ran...
    assert not Effect.objects.exists()  # ...but the fenced write wrote nothing
