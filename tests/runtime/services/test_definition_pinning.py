"""A run is pinned to its graph's definition: continuing it on a changed graph is
refused (or, if so configured, warned about in its timeline)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from graphs import END, START, StateGraph
from runtime import registry, selectors
from runtime.errors import GraphDefinitionChanged
from runtime.models import Attempt, AuditLog, DeadLetter, Interrupt, Job
from runtime.services.dead_letters import dead_letter_replay
from runtime.services.interrupts import interrupt_resume
from runtime.services.jobs import job_replay
from runtime.worker.drain import worker_drain
from tests.factories import ALICE, make_job
from tests.runtime.sample_graphs import Counter, step

pytestmark = pytest.mark.django_db


def linear(*names: str) -> StateGraph:
    graph = StateGraph(Counter)
    for name in names:
        graph.add_node(name, step(name))
    for a, b in zip([START, *names], [*names, END], strict=True):
        graph.add_edge(a, b)
    return graph


@pytest.fixture
def evolving() -> Iterator[str]:
    """A graph registered as ``evolving``: a -> b, until a test redefines it."""
    registry.register("evolving")(lambda: linear("a", "b"))
    yield "evolving"
    registry._registered.pop("evolving", None)
    registry._cache.pop("evolving", None)


def redefine(name: str) -> None:
    registry.register(name)(lambda: linear("a", "b", "c"))


def changed(job: Job) -> Job:
    """The job as if it had started on an earlier definition of its graph."""
    Job.objects.filter(pk=job.pk).update(graph_hash="0" * 64)
    job.refresh_from_db()
    return job


def waiting_for_approval() -> Interrupt:
    job = make_job("approval", input={"topic": "pinning"})
    worker_drain(worker_id="w")
    return Interrupt.objects.get(job=job)


def test_a_changed_definition_has_another_hash(evolving: str) -> None:
    job = make_job(evolving)
    worker_drain(worker_id="w")
    before = job.graph_hash
    redefine(evolving)
    assert registry.graph_get(evolving).definition_hash != before
    with pytest.raises(GraphDefinitionChanged) as refused:
        job_replay(job=job, actor=ALICE)
    assert refused.value.details == {
        "graph": evolving,
        "pinned_hash": before,
        "registered_hash": registry.graph_get(evolving).definition_hash,
    }
    assert job.attempts.count() == 1


def test_resuming_on_a_changed_graph_is_refused_and_changes_nothing() -> None:
    interrupt = waiting_for_approval()
    changed(interrupt.job)
    with pytest.raises(GraphDefinitionChanged):
        interrupt_resume(interrupt=interrupt, value=True, actor=ALICE)
    interrupt.refresh_from_db()
    assert interrupt.status == Interrupt.Status.PENDING
    assert Job.objects.get().status == Job.Status.INTERRUPTED
    assert Attempt.objects.count() == 1
    assert not AuditLog.objects.filter(action="interrupt.resume").exists()


def test_replaying_a_dead_letter_on_a_changed_graph_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "1")
    job = make_job("flaky")
    worker_drain(worker_id="w")
    dead = DeadLetter.objects.get(job=job)
    changed(job)
    with pytest.raises(GraphDefinitionChanged):
        dead_letter_replay(dead_letter=dead, actor=ALICE)
    dead.refresh_from_db()
    assert dead.replay_status == DeadLetter.ReplayStatus.PENDING


def test_the_api_answers_a_conflict(db: None) -> None:
    from tests.runtime.api.conftest import keyed_client

    interrupt = waiting_for_approval()
    changed(interrupt.job)
    client: APIClient = keyed_client("operator", "olga")
    response = client.post(
        f"/v1/jobs/{interrupt.job.thread_id}/resume", {"value": True}, format="json"
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"]["pinned_hash"] == "0" * 64


def test_with_warn_a_run_continues_and_its_timeline_says_so(settings) -> None:
    settings.ORIS_GRAPH_DEFINITION_CHANGED = "warn"
    interrupt = waiting_for_approval()
    job = changed(interrupt.job)
    interrupt_resume(interrupt=interrupt, value=True, actor=ALICE)
    worker_drain(worker_id="w")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    warnings = [e for e in selectors.job_timeline(job=job) if e.kind == "warning"]
    assert len(warnings) == 1
    assert "changed graph definition" in warnings[0].text
    assert selectors.job_definition_change(job=job)["policy"] == "warn"


def test_an_unchanged_graph_has_no_definition_change() -> None:
    interrupt = waiting_for_approval()
    assert selectors.job_definition_change(job=interrupt.job) is None
    changed(interrupt.job)
    assert selectors.job_definition_change(job=interrupt.job)["pinned_hash"] == (
        "0" * 64
    )
