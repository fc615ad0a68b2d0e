"""runtime/metrics.py: counts buffered per process, added to shared rows once,
only when their transaction commits, and rendered with their labels intact."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from graphs.checkpoint import InMemorySaver
from runtime import metrics, registry
from runtime.models import Interrupt, Job, MetricCounter
from runtime.services import claims, reaper
from runtime.services.interrupts import interrupt_reject
from runtime.services.jobs import job_cancel
from runtime.worker import execute
from tests.factories import ALICE, make_job
from tests.runtime.metrics_graphs import METRICS_GRAPHS
from tests.runtime.sample_graphs import TEST_GRAPHS
from tests.runtime.test_crash_recovery import MANAGE, worker_env


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = Client().get("/metrics").content.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("oris_runtime_")
    }


def retries(graph: str) -> float:
    key = ("oris_runtime_retries_scheduled_total", (("graph", graph),))
    return scrape().get(key, 0.0)


@pytest.mark.django_db(transaction=True)
def test_counts_inside_a_transaction_count_only_if_it_commits() -> None:
    with transaction.atomic():
        metrics.inc("retries_scheduled_total", graph="g")
        assert metrics._buffer.values == {}  # not before the commit
    try:
        with transaction.atomic():
            metrics.inc("retries_scheduled_total", graph="g")
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    metrics.inc("retries_scheduled_total", graph="g")  # autocommit: at once
    assert retries("g") == 2


@pytest.mark.django_db(transaction=True)
def test_a_failed_flush_keeps_the_counts_for_the_next(monkeypatch) -> None:
    metrics.inc("retries_scheduled_total", 3, graph="g")
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/x.db")
    else:
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    connection.close()
    with pytest.raises(Exception, match="unable to open|connect|refused"):
        metrics.flush()
    monkeypatch.undo()
    connection.close()
    metrics.inc("retries_scheduled_total", graph="g")
    metrics.flush()
    assert MetricCounter.objects.get(name="retries_scheduled_total").value == 4


@pytest.mark.django_db(transaction=True)
def test_label_values_keep_commas_equals_and_percents() -> None:
    metrics.inc("dead_letters_total", graph="a,b=c%d", reason="terminal_failed")
    metrics.inc("tool_calls_total", tool="x" * 200, outcome="ok")
    samples = scrape()
    key = (("graph", "a,b=c%d"), ("reason", "terminal_failed"))
    assert samples[("oris_runtime_dead_letters_total", key)] == 1
    tools = [
        labels for name, labels in samples if name == "oris_runtime_tool_calls_total"
    ]
    assert tools == [(("outcome", "ok"), ("tool", "x" * 80))]  # bounded


def test_a_series_takes_exactly_its_declared_labels() -> None:
    with pytest.raises(ValueError, match="takes labels"):
        metrics.inc("runs_finished_total", graph="g")
    with pytest.raises(KeyError):
        metrics.inc("runs_finished_total", graph="g", thread_id="t")


@pytest.mark.django_db(transaction=True)
def test_a_histogram_renders_cumulative_buckets_per_label_set() -> None:
    for seconds in (0.002, 0.2, 7, 1000):
        metrics.observe("node_duration_seconds", seconds, graph="g", node="n")
    metrics.observe("node_duration_seconds", 0.2, graph="g", node="m")
    samples = scrape()

    def bucket(node: str, le: str) -> float:
        labels = (("graph", "g"), ("le", le), ("node", node))
        return samples[("oris_runtime_node_duration_seconds_bucket", labels)]

    assert [bucket("n", le) for le in ("0.001", "0.005", "0.25", "10", "300")] == [
        0,
        1,
        2,
        3,
        3,
    ]
    assert bucket("n", "+Inf") == 4
    assert bucket("m", "+Inf") == 1
    total = ("oris_runtime_node_duration_seconds_sum", (("graph", "g"), ("node", "n")))
    assert samples[total] == pytest.approx(1007.202)


COUNT_AND_FLUSH = """
from runtime import metrics
for _ in range(50):
    metrics.inc("retries_scheduled_total", graph="shared")
    metrics.observe(
        "attempt_duration_seconds", 0.01, graph="shared", outcome="completed"
    )
metrics.flush()
"""


@pytest.mark.django_db(transaction=True)
def test_processes_counting_the_same_series_add_up() -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, MANAGE, "shell", "--no-imports", "-c", COUNT_AND_FLUSH],
            env=worker_env() | {"ORIS_METRICS_FLUSH_MS": "5"},
        )
        for _ in range(2)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    assert retries("shared") == 100
    labels = (("graph", "shared"), ("outcome", "completed"))
    assert scrape()[("oris_runtime_attempt_duration_seconds_count", labels)] == 100


def finished(graph: str, status: str) -> float:
    key = ("oris_runtime_runs_finished_total", (("graph", graph), ("status", status)))
    return scrape().get(key, 0.0)


@pytest.mark.django_db(transaction=True)
def test_every_path_to_a_terminal_status_counts_one_finished_run(settings) -> None:
    settings.ORIS_GRAPHS = {**TEST_GRAPHS, **METRICS_GRAPHS}
    registry._cache.clear()
    settings.ORIS_MAX_RECOVERY_ATTEMPTS = 1
    queued = make_job("chain")
    job_cancel(job=queued, actor=ALICE)  # an operator cancels it while queued
    make_job("asks")
    lease = claims.attempt_claim(worker_id="w")
    assert execute.run_leased(lease=lease) == "interrupted"
    interrupt_reject(interrupt=Interrupt.objects.get(), actor=ALICE)
    make_job(
        "sleeps",
        timeout_policy={"timeout_ms": 1, "on_timeout_status": "cancelled"},
    )
    claims.attempt_claim(worker_id="w")
    later = timezone.now() + timedelta(seconds=1)
    reaper.reap(at=later)  # past its timeout: cancelled by its policy
    make_job("chain")
    dead = claims.attempt_claim(worker_id="dies")
    reaper.reap(at=dead.expires_at + timedelta(seconds=1))  # its recovery limit
    assert finished("chain", "cancelled") == 1
    assert finished("asks", "cancelled") == 1
    assert finished("sleeps", "cancelled") == 1
    assert finished("chain", "failed") == 1
    reason = (("graph", "chain"), ("reason", "recovery_limit"))
    assert scrape()[("oris_runtime_dead_letters_total", reason)] == 1
    assert Job.objects.filter(status=Job.Status.CANCELLED).count() == 3


def step_counts(samples, graph: str) -> tuple[float, dict[str, float]]:
    steps = samples.get(
        ("oris_runtime_superstep_duration_seconds_count", (("graph", graph),)), 0.0
    )
    nodes = {
        dict(labels)["node"]: value
        for (name, labels), value in samples.items()
        if name == "oris_runtime_node_duration_seconds_count"
        and dict(labels)["graph"] == graph
    }
    return steps, nodes


@pytest.mark.django_db(transaction=True)
def test_an_attempts_supersteps_and_nodes_are_timed_by_the_engines_listener() -> None:
    from graphs.instrumentation import get_listener
    from runtime.worker.drain import worker_drain

    assert get_listener() is metrics.STEPS  # the engine measures; metrics read it
    metrics.discard_pending()
    before = step_counts(scrape(), "chain")
    job = make_job("chain")
    worker_drain(worker_id="w-steps")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    steps, nodes = step_counts(scrape(), "chain")
    # the input's superstep, then a, b and c; each node once
    assert steps - before[0] == 4
    assert {n: v - before[1].get(n, 0.0) for n, v in nodes.items()} == {
        "a": 1,
        "b": 1,
        "c": 1,
    }
    # the same graph run outside an attempt is not a run of the runtime's, nor
    # is one of another thread inside it (a subagent a tool runs)
    chain = registry.graph_get("chain").graph.with_checkpointer(InMemorySaver())
    chain.invoke({"n": 0}, {"configurable": {"thread_id": "t-1"}})
    with metrics.attempt_steps(graph="chain", thread_id="t-2"):
        chain.invoke({"n": 0}, {"configurable": {"thread_id": "t-3"}})
    assert step_counts(scrape(), "chain") == (steps, nodes)
    with metrics.attempt_steps(graph="chain", thread_id="t-2"):
        chain.invoke({"n": 0}, {"configurable": {"thread_id": "t-2"}})
    assert step_counts(scrape(), "chain")[0] == steps + 4
