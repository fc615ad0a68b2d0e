"""SIGKILL of an idle django-q2 worker. Waiting as q2 ships it (SQLite), it dies
holding the lock of the queue its cluster's workers share, and the cluster wedges
while its sentinel looks alive: the supervisor sees work due and no progress,
and restarts the cluster. Waiting as a listening worker (PostgreSQL,
``runtime/worker/serve.py``) it holds no lock: q2's sentinel starts another
worker, which drains at once, and nothing wedges."""

from __future__ import annotations

import os
import signal
import time

from django.db import connection

from runtime.models import Lease

from .conftest import (
    Supervised,
    all_completed,
    assert_completed_once_per_node,
    submit,
    wait_for,
)


def worker_pid(cluster: Supervised) -> int:
    """The pid of a q2 worker of the cluster, from a lease it holds."""
    lease = wait_for(
        "a run on the cluster",
        lambda: next(
            (x for x in Lease.objects.all() if cluster.owns(x.worker_id)), None
        ),
    )
    return int(lease.worker_id.rsplit(":", 1)[1])


def test_a_killed_idle_worker_is_replaced_or_its_wedged_cluster_restarted(
    supervise, client
) -> None:
    only = supervise(ORIS_WORKERS="1")  # its only worker: the lock is surely its
    first = submit(1)
    pid = worker_pid(only)
    wait_for("the first job to complete", lambda: all_completed(first))
    time.sleep(1)  # let the worker go back to waiting for its next task
    os.kill(pid, signal.SIGKILL)
    jobs = [*first, *submit(3, first=1)]
    wait_for("every job to complete", lambda: all_completed(jobs), timeout=90)
    assert_completed_once_per_node(jobs, reruns_allowed=0)
    record = only.record()
    if connection.vendor == "postgresql":
        assert record.restarts == 0, only.output()
        assert "wedged" not in only.output()
        return
    assert record.restarts == 1
    assert record.note.startswith("wedged:")
    assert "wedged" in only.output()
    readiness = client.get("/readyz")
    assert readiness.status_code == 200
    assert readiness.json()["clusters"][0]["restarts"] == 1
