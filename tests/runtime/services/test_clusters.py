"""Cluster liveness: what supervisors decide from the records, and /readyz."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.models import Attempt, QueueDoorbell, WorkerCluster
from runtime.services import claims, clusters, dispatch
from tests.factories import make_job

pytestmark = pytest.mark.django_db

State = WorkerCluster.State


@pytest.fixture
def stall(settings) -> timedelta:
    settings.ORIS_CLUSTER_STALL_SECONDS = 30
    return timedelta(seconds=30)


def started(cluster_id: str = "h:1:0", **kwargs) -> WorkerCluster:
    clusters.cluster_started(cluster_id=cluster_id, pid=123, **kwargs)
    return WorkerCluster.objects.get(pk=cluster_id)


def progress(cluster_id: str, at) -> None:
    WorkerCluster.objects.filter(pk=cluster_id).update(progressed_at=at)


def check(cluster_id: str, *, due_since, at) -> State:
    return clusters.cluster_check(cluster_id=cluster_id, due_since=due_since, at=at)


def test_a_cluster_starts_then_is_live_once_its_workers_progress(stall) -> None:
    cluster = started()
    t0 = cluster.started_at
    assert check(cluster.pk, due_since=None, at=t0) == State.STARTING
    progress(cluster.pk, t0 + timedelta(seconds=1))
    assert check(cluster.pk, due_since=t0, at=t0 + timedelta(seconds=2)) == State.LIVE


def test_an_idle_cluster_is_live_however_long_nothing_is_due(stall) -> None:
    cluster = started()
    progress(cluster.pk, cluster.started_at)  # its workers spawned
    later = cluster.started_at + 10 * stall
    assert check(cluster.pk, due_since=None, at=later) == State.LIVE


def test_a_cluster_slow_to_start_is_wedged_only_after_the_startup_bound(
    stall,
) -> None:
    cluster = started()
    t0 = cluster.started_at
    almost = t0 + clusters.STARTUP - timedelta(seconds=1)
    assert check(cluster.pk, due_since=t0, at=almost) == State.STARTING
    at = t0 + clusters.STARTUP
    assert check(cluster.pk, due_since=t0, at=at) == State.WEDGED


def test_it_is_wedged_when_work_waits_the_bound_and_no_worker_progresses(
    stall,
) -> None:
    cluster = started()
    t0 = cluster.started_at
    progress(cluster.pk, t0)
    due_since = t0 + timedelta(seconds=5)
    # Work due for less than the bound, or progress within it: not wedged.
    assert check(cluster.pk, due_since=due_since, at=t0 + stall) == State.LIVE
    progress(cluster.pk, t0 + stall)
    just_before = t0 + 2 * stall - timedelta(seconds=1)
    assert check(cluster.pk, due_since=due_since, at=just_before) == State.LIVE
    wedged_at = t0 + 2 * stall
    assert check(cluster.pk, due_since=due_since, at=wedged_at) == State.WEDGED


def test_a_restart_counts_says_why_and_starts_over(stall) -> None:
    cluster = started()
    progress(cluster.pk, cluster.started_at)
    again = started(note="wedged: no worker progressed")
    assert (again.restarts, again.note, again.state) == (
        1,
        "wedged: no worker progressed",
        State.STARTING,
    )
    assert again.progressed_at is None
    due_since = cluster.started_at - 2 * stall
    assert check(cluster.pk, due_since=due_since, at=again.started_at + stall) == (
        State.STARTING
    )


@pytest.mark.usefixtures("q2_rings")
def test_unseen_clusters_are_forgotten_with_their_deliveries(stall, settings) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    now = timezone.now()
    dead, alive = started("dead"), started("alive")
    WorkerCluster.objects.filter(pk=dead.pk).update(seen_at=now - stall)
    make_job()  # its ring is pending
    assert QueueDoorbell.objects.get().pending == 1
    assert clusters.clusters_expire(at=now) == ["dead"]
    assert list(WorkerCluster.objects.values_list("id", flat=True)) == [alive.pk]
    assert QueueDoorbell.objects.get().pending == 0
    assert dispatch.dispatch_ring_due(at=now) == ["default"]


def test_progress_outside_a_supervised_cluster_is_a_no_op(monkeypatch) -> None:
    cluster = started()
    monkeypatch.delenv(clusters.CLUSTER_ID_ENV, raising=False)
    clusters.cluster_progressed()
    monkeypatch.setenv(clusters.CLUSTER_ID_ENV, cluster.pk)
    monkeypatch.setattr(clusters, "_noted_at", -clusters.PROGRESS_EVERY)
    clusters.cluster_progressed()
    cluster.refresh_from_db()
    assert cluster.progressed_at is not None


def test_readyz_is_ok_with_nothing_due_and_no_cluster(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "due": 0,
        "queue_lag_seconds": 0.0,
        "heartbeat_recent": False,
        "last_heartbeat": None,
        "workers": {"q2_clusters_live": 0, "http_workers_live": 0, "leases_held": 0},
        "clusters": [],
    }


def test_readyz_reports_the_queue_lag_and_an_http_worker_serving(client) -> None:
    earlier = timezone.now() - timedelta(seconds=90)
    make_job(at=earlier)
    make_job()
    body = client.get("/readyz").json()
    assert (body["status"], body["due"]) == ("unavailable", 2)
    assert 90 <= body["queue_lag_seconds"] < 120
    assert body["heartbeat_recent"] is False
    lease = claims.attempt_claim(worker_id="http-7", status=Attempt.Status.LEASED)
    response = client.get("/readyz")
    assert response.status_code == 200  # an HTTP worker beats: it will take the rest
    body = response.json()
    assert (body["due"], body["heartbeat_recent"]) == (1, True)
    assert body["workers"] == {
        "q2_clusters_live": 0,
        "http_workers_live": 1,
        "leases_held": 1,
    }
    assert body["last_heartbeat"].startswith(f"{lease.heartbeat_at:%Y-%m-%dT%H:%M}")


def test_readyz_is_unavailable_when_work_is_due_and_no_cluster_serves(
    client, stall
) -> None:
    make_job()
    assert client.get("/readyz").status_code == 503
    cluster = started()
    now = timezone.now()
    progress(cluster.pk, now)  # its workers spawned, then stopped progressing
    check(cluster.pk, due_since=now - 2 * stall, at=now + stall)
    body = client.get("/readyz").json()
    assert (body["status"], body["due"]) == ("unavailable", 1)
    assert [c["state"] for c in body["clusters"]] == ["wedged"]


def test_readyz_reports_live_and_dead_clusters(client, stall) -> None:
    make_job()
    now = timezone.now()
    live, dead = started("a"), started("b")
    progress(live.pk, now)
    check(live.pk, due_since=now, at=now)
    WorkerCluster.objects.filter(pk=dead.pk).update(seen_at=now - stall)
    response = client.get("/readyz")
    assert response.status_code == 200
    states = {c["id"]: c["state"] for c in response.json()["clusters"]}
    assert states == {"a": "live", "b": "dead"}
