"""The Django saver passes the graphs checkpointer conformance suite."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, TypedDict

import pytest
from asgiref.sync import SyncToAsync
from django.db import connections
from django.utils import timezone

from graphs import END, START, Command, StateGraph, interrupt
from runtime.checkpointer import DjangoSaver
from runtime.errors import JobCancelled, LeaseLost
from runtime.models import Checkpoint, CheckpointBlob, CheckpointWrite
from runtime.services import claims, leases, reaper
from runtime.services.jobs import job_cancel
from tests.factories import ALICE, make_job
from tests.graphs.checkpointer_conformance import CheckpointerConformance


class TestDjangoSaver(CheckpointerConformance):
    # Committed transactions: the async variants run the ORM in another thread.
    @pytest.fixture
    def saver(self, transactional_db) -> Iterator[DjangoSaver]:
        yield DjangoSaver()
        # asgiref's thread for sync code keeps its own connection: close it, so
        # that the test database can be dropped at the end.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    constant: str


def logger(name: str):
    def node(state: State) -> dict:
        return {"log": [name]}

    return node


def chain_of(n: int) -> StateGraph:
    graph = StateGraph(State)
    names = [f"n{i}" for i in range(n)]
    for name in names:
        graph.add_node(name, logger(name))
    graph.add_edge(START, names[0])
    for a, b in zip(names, names[1:], strict=False):
        graph.add_edge(a, b)
    graph.add_edge(names[-1], END)
    return graph


@pytest.mark.django_db
def test_one_checkpoint_row_per_superstep_and_blobs_only_for_changes() -> None:
    graph = chain_of(10).compile(checkpointer=DjangoSaver())
    config = {"configurable": {"thread_id": "growth"}}
    out = graph.invoke({"log": [], "constant": "x" * 1000}, config)
    assert out["log"] == [f"n{i}" for i in range(10)]
    checkpoints = Checkpoint.objects.filter(thread_id="growth").count()
    assert checkpoints == 12  # the input, the START superstep, one per node
    constant_blobs = CheckpointBlob.objects.filter(
        thread_id="growth", channel="constant"
    )
    assert constant_blobs.count() == 1  # written once, never again


@pytest.mark.django_db
def test_a_lost_lease_writes_nothing_and_raises() -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w")
    saver = DjangoSaver(fence=leases.LeaseFence(lease))
    graph = chain_of(5).compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "fenced"}}
    graph.invoke({"log": [], "constant": ""}, config)
    written = Checkpoint.objects.filter(thread_id="fenced").count()
    assert written == 7
    reaper.reap(at=timezone.now() + timedelta(seconds=31))
    with pytest.raises(LeaseLost):
        graph.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "f2"}})
    assert not Checkpoint.objects.filter(thread_id="f2").exists()
    assert not CheckpointBlob.objects.filter(thread_id="f2").exists()


@pytest.mark.django_db
def test_a_cancelled_job_stops_the_writes() -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w")
    graph = chain_of(2).compile(
        checkpointer=DjangoSaver(fence=leases.LeaseFence(lease))
    )
    job_cancel(job=job, actor=ALICE)
    with pytest.raises(JobCancelled):
        graph.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "c"}})
    assert not Checkpoint.objects.filter(thread_id="c").exists()


def history(thread_id: str) -> list[tuple[str, int]]:
    rows = Checkpoint.objects.filter(thread_id=thread_id).order_by("checkpoint_id")
    return [(row.metadata["source"], row.metadata["step"]) for row in rows]


@pytest.mark.django_db
def test_a_new_threads_input_checkpoint_is_written_with_the_first_superstep() -> None:
    seen = []

    def counting(state: State) -> dict:
        seen.append(Checkpoint.objects.filter(thread_id="held").count())
        return {"log": ["n"]}

    graph = StateGraph(State)
    graph.add_sequence([("a", counting), ("b", counting), ("c", counting)])
    graph.add_edge(START, "a")
    graph.add_edge("c", END)
    held = graph.compile(checkpointer=DjangoSaver(new_thread=True))
    held.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "held"}})
    # nothing before the first node's superstep, then the input's two with it
    assert seen == [0, 3, 4]
    plain = graph.compile(checkpointer=DjangoSaver())
    plain.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "plain"}})
    assert (
        history("held")
        == history("plain")
        == [
            ("input", -1),
            ("loop", 0),
            ("loop", 1),
            ("loop", 2),
            ("loop", 3),
        ]
    )


@pytest.mark.django_db
def test_a_held_input_checkpoint_is_written_before_reads_and_pending_writes() -> None:
    def ask(state: State) -> dict:
        return {"log": [interrupt("go on?")]}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    config = {"configurable": {"thread_id": "asks"}}
    saver = DjangoSaver(new_thread=True)
    first = graph.compile(checkpointer=saver)
    first.invoke({"log": [], "constant": ""}, config)
    assert history("asks") == [("input", -1), ("loop", 0)]
    assert CheckpointWrite.objects.filter(thread_id="asks").exists()
    resumed = graph.compile(checkpointer=DjangoSaver())
    out = resumed.invoke(Command(resume="yes"), config)
    assert out["log"] == ["yes"]

    reader = DjangoSaver(new_thread=True)
    checkpoint = dict(saver.get_tuple(config).checkpoint, id="held-then-read")
    reader.put(config, checkpoint, {"source": "input", "step": -1}, {})
    assert not Checkpoint.objects.filter(checkpoint_id="held-then-read").exists()
    listed = [t.config for t in reader.list(config, limit=1)]
    assert listed[0]["configurable"]["checkpoint_id"] == "held-then-read"


@pytest.mark.django_db
def test_a_held_input_checkpoint_is_fenced_with_the_superstep() -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w")
    saver = DjangoSaver(fence=leases.LeaseFence(lease), new_thread=True)
    graph = chain_of(2).compile(checkpointer=saver)
    reaper.reap(at=timezone.now() + timedelta(seconds=31))
    with pytest.raises(LeaseLost):
        graph.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "h"}})
    assert not Checkpoint.objects.filter(thread_id="h").exists()
    assert not CheckpointBlob.objects.filter(thread_id="h").exists()
