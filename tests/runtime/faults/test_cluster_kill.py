"""SIGKILL of a whole cluster mid-run: its runs resume from their checkpoints
within the bound, on the other cluster or on the one its supervisor restarts."""

from __future__ import annotations

import time

import pytest

from runtime.models import Attempt, Lease, WorkerCluster

from .conftest import (
    RECOVERY_BOUND,
    TTL,
    Supervised,
    all_completed,
    assert_completed_once_per_node,
    submit,
    wait_for,
)


def leased_by(cluster: Supervised) -> list[str]:
    """The attempts the cluster's workers hold leases on."""
    return [
        lease.attempt_id
        for lease in Lease.objects.all()
        if cluster.owns(lease.worker_id)
    ]


def resumed(attempt_ids: list[str], dead_workers: set[str]) -> bool:
    """Whether every attempt is running again elsewhere or finished."""
    for attempt in Attempt.objects.filter(pk__in=attempt_ids):
        if attempt.status == Attempt.Status.COMPLETED:
            continue
        lease = Lease.objects.filter(attempt=attempt).first()
        if lease is None or lease.worker_id in dead_workers:
            return False
    return True


def kill_mid_run(cluster: Supervised, kill) -> tuple[list[str], float]:
    """Waits until the cluster runs something, kills it; returns what it was
    running and how long those attempts took to run again."""
    killed = wait_for("a run on the cluster", lambda: leased_by(cluster))
    dead_workers = set(
        Lease.objects.filter(attempt_id__in=killed).values_list("worker_id", flat=True)
    )
    kill()
    killed_at = time.monotonic()
    wait_for("the killed runs to resume", lambda: resumed(killed, dead_workers))
    return killed, time.monotonic() - killed_at


def test_the_other_cluster_resumes_the_runs_of_a_killed_one(supervise) -> None:
    doomed = supervise()
    jobs = submit(16)
    wait_for("a run on the doomed cluster", lambda: leased_by(doomed))
    survivor = supervise()
    wait_for("the other cluster to start", survivor.record)
    killed, recovery = kill_mid_run(doomed, doomed.kill)
    wait_for("every job to complete", lambda: all_completed(jobs), timeout=90)
    assert recovery < RECOVERY_BOUND
    assert_completed_once_per_node(jobs, reruns_allowed=len(killed))
    assert Attempt.objects.filter(dispatches__gt=1).count() == len(killed)


def test_a_supervisor_restarts_its_killed_cluster_and_it_resumes_the_runs(
    supervise,
) -> None:
    only = supervise()
    wait_for("the cluster to start", only.record)
    jobs = submit(4)
    killed, recovery = kill_mid_run(only, only.kill_cluster)
    wait_for("every job to complete", lambda: all_completed(jobs), timeout=90)
    assert recovery < RECOVERY_BOUND
    assert_completed_once_per_node(jobs, reruns_allowed=len(killed))
    record = only.record()
    assert record.restarts == 1
    assert record.note.startswith("exited with status")
    assert "restarting it" in only.output()


@pytest.mark.usefixtures("transactional_db")
def test_readiness_follows_a_supervised_cluster(supervise, client) -> None:
    only = supervise()
    wait_for("the cluster to start", only.record)
    jobs = submit(1)
    wait_for("the job to complete", lambda: all_completed(jobs))
    body = wait_for(
        "a live cluster",
        lambda: (
            (b := client.get("/readyz").json())["clusters"][0]["state"] == "live" and b
        ),
    )
    assert body["status"] == "ok"
    only.stop()
    assert not WorkerCluster.objects.exists()  # stopped on purpose: forgotten


def test_a_run_longer_than_q2s_task_lock_runs_once(supervise) -> None:
    # Each node outlasts q2's ``retry`` (one TTL): q2 hands the delivery to the
    # other worker meanwhile, which finds nothing claimable: the lease holds it.
    only = supervise(ORIS_TEST_STEP_SECONDS=str(TTL + 1))
    wait_for("the cluster to start", only.record)
    jobs = submit(1)
    wait_for("the job to complete", lambda: all_completed(jobs), timeout=90)
    assert_completed_once_per_node(jobs, reruns_allowed=0)
    assert Attempt.objects.get().dispatches == 1
