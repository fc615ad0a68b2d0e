"""The /v1 run operations as services: no HTTP, the real database."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest

from graphs import END, START, StateGraph, interrupt
from runtime.errors import Conflict, InvalidArgument, UnknownGraph
from runtime.models import Attempt, IdempotencyRecord, Interrupt, Job
from runtime.services.runs import job_replay_once, job_resume, job_run
from runtime.worker.drain import worker_drain
from tests.factories import ALICE
from tests.runtime.sample_graphs import effects

pytestmark = pytest.mark.django_db

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Answers(TypedDict, total=False):
    left_answer: Any
    right_answer: Any


def ask(name: str):
    def node(state: Answers) -> dict[str, Any]:
        return {f"{name}_answer": interrupt({"question": f"{name}?"})}

    node.__name__ = name
    return node


def build_two_questions() -> StateGraph:
    """Two parallel nodes that each wait for a person."""
    graph = StateGraph(Answers)
    graph.add_node("left", ask("left"))
    graph.add_node("right", ask("right"))
    graph.add_edge(START, "left")
    graph.add_edge(START, "right")
    graph.add_edge("left", END)
    graph.add_edge("right", END)
    return graph


@pytest.fixture
def two_questions(settings) -> Job:
    from runtime import registry

    graphs = {"two": "tests.runtime.services.test_runs:build_two_questions"}
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **graphs}
    registry._cache.clear()
    job = job_run(actor=ALICE, graph="two", input={}).job
    drain()
    assert Interrupt.objects.filter(job=job, status="pending").count() == 2
    return job


def drain() -> None:
    worker_drain(worker_id="services-test")


def test_a_run_writes_the_job_and_answers_the_reference_shape() -> None:
    result = job_run(actor=ALICE, graph="chain", input={}, thread_id="r1", priority=3)
    assert result.response == {
        "thread_id": "r1",
        "status": "queued",
        "interrupts": [],
        "idempotency_key": None,
        "idempotent_replay": False,
        "trace": result.response["trace"],
    }
    assert (result.job.thread_id, result.job.priority) == ("r1", 3)
    assert not IdempotencyRecord.objects.exists()


def test_a_keyed_run_runs_once_and_replays_its_first_answer() -> None:
    first = job_run(
        actor=ALICE,
        graph="chain",
        input={"value": 1},
        idempotency_key="k1",
        traceparent=TRACEPARENT,
    )
    again = job_run(
        actor=ALICE, graph="chain", input={"value": 1}, idempotency_key="k1"
    )
    assert first.job.thread_id == again.job.thread_id  # derived from the key
    assert again.response["idempotent_replay"] is True
    assert again.response["trace"] == first.response["trace"]
    assert first.response["trace"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert Job.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert (record.status, record.response) == ("completed", first.response)


def test_a_key_reused_with_another_payload_is_a_conflict() -> None:
    job_run(actor=ALICE, graph="chain", input={}, idempotency_key="k", priority=1)
    with pytest.raises(Conflict) as raised:
        job_run(actor=ALICE, graph="chain", input={}, idempotency_key="k", priority=2)
    assert raised.value.details == {"idempotency_key": "k", "operation": "run"}
    assert Job.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"thread_id": " "}, "thread_id must not be empty"),
        ({"tenant_id": "a b"}, "tenant_id contains unsupported characters"),
        ({"tenant_id": "é" * 65}, "tenant_id must be 128 characters or fewer"),
        (
            {"timeout_policy": {"timeout_ms": 5, "on_timeout_status": "later"}},
            "on_timeout_status must be one of: failed|cancelled",
        ),
        ({"idempotency_key": " "}, "idempotency_key must not be empty"),
        ({"traceparent": "00-zz-1-01"}, "traceparent"),
    ],
)
def test_a_bad_run_writes_nothing(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        job_run(actor=ALICE, graph="chain", input={}, **overrides)
    assert not Job.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_an_unknown_graph_releases_the_key_it_reserved() -> None:
    with pytest.raises(UnknownGraph):
        job_run(actor=ALICE, graph="nope", input={}, idempotency_key="k")
    assert not IdempotencyRecord.objects.exists()
    assert job_run(actor=ALICE, graph="chain", input={}, idempotency_key="k").job


def test_the_timeout_policy_is_normalised_and_stored() -> None:
    policy = {"timeout_ms": 50, "on_timeout_status": " Cancelled "}
    job = job_run(actor=ALICE, graph="chain", input={}, timeout_policy=policy).job
    assert (job.timeout_ms, job.timeout_status) == (50, "cancelled")


def test_a_replay_runs_once_per_target() -> None:
    job = job_run(actor=ALICE, graph="chain", input={}).job
    drain()
    first = job_replay_once(job=job, actor=ALICE)
    assert (first["status"], first["idempotent_replay"]) == ("queued", False)
    drain()
    again = job_replay_once(job=Job.objects.get(pk=job.pk), actor=ALICE)
    assert again == {**first, "idempotent_replay": True}
    assert job.attempts.filter(kind=Attempt.Kind.REPLAY).count() == 1
    drain()
    assert effects("c") == 2


def test_resume_needs_a_pending_interrupt() -> None:
    job = job_run(actor=ALICE, graph="chain", input={}).job
    with pytest.raises(Conflict) as raised:
        job_resume(job=job, value=True, actor=ALICE)
    assert raised.value.details == {"status": "queued"}


def test_several_interrupts_need_a_map_naming_them(
    two_questions: Job,
) -> None:
    pending = list(two_questions.interrupts.order_by("created_at"))
    with pytest.raises(Conflict) as raised:
        job_resume(job=two_questions, value={pending[0].pk: 1, "x": 2}, actor=ALICE)
    assert sorted(raised.value.details["interrupt_ids"]) == sorted(
        i.pk for i in pending
    )
    assert two_questions.interrupts.filter(status="pending").count() == 2
    answers = {i.pk: n for n, i in enumerate(pending)}
    job = job_resume(job=two_questions, value=answers, actor=ALICE)
    assert job.status == Job.Status.QUEUED
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
