"""The listening broker: a real ``qcluster`` woken by NOTIFY on PostgreSQL, polling
on SQLite and whenever its LISTEN connection is gone.

Whether a notification woke the cluster is told apart from a poll by the clock
only at the scale of the fallback: the cluster reads the task table on its own
only when it starts, when it reconnects, and every ``IDLE_POLL`` seconds after
that (the scheduler, which could run the sweep, has no schedules here). A job
that runs before ``IDLE_POLL`` seconds after the cluster started, submitted
after the cluster's first read, was announced by its notification.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction
from django_q.models import Schedule

from runtime.models import Job
from runtime.worker.broker import CHANNEL, ListeningBroker
from tests.factories import make_job, queued_doorbells
from tests.runtime.test_crash_recovery import start_qcluster, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

IDLE_POLL = 120
STARTUP = 90  # seconds a loaded machine may need to start a cluster and run a job


@dataclass
class Cluster:
    process: subprocess.Popen[bytes]
    log: Path
    started: float  # time.monotonic() before the process was spawned

    def deadline(self) -> float:
        """Until when a read of the task table means a notification woke it."""
        return self.started + IDLE_POLL

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    Schedule.objects.all().delete()  # no sweep that would run the jobs by itself
    env = worker_env() | {
        "ORIS_Q_IDLE_POLL_SECONDS": str(IDLE_POLL),
        "ORIS_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "qcluster.log"
    started = time.monotonic()
    process = start_qcluster(env, log)
    try:
        yield Cluster(process, log, started)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this fixture started
            process.wait(timeout=10)


def wait_until(predicate: Callable[[], bool], *, deadline: float) -> bool:
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def completed(job: Job) -> Callable[[], bool]:
    return lambda: Job.objects.filter(pk=job.pk, status=Job.Status.COMPLETED).exists()


def listener_pids() -> set[int]:
    """The backends of this database that LISTEN (the cluster's pusher)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN %%' AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def warm_up(cluster: Cluster) -> None:
    """Runs a first job, so the cluster has read the task table since it started."""
    first = make_job()
    assert wait_until(completed(first), deadline=time.monotonic() + STARTUP), (
        cluster.output()
    )


@pytest.mark.postgres
def test_a_notification_wakes_an_idle_cluster(cluster: Cluster) -> None:
    warm_up(cluster)
    job = make_job()
    assert wait_until(completed(job), deadline=cluster.deadline()), cluster.output()


def submit_and_fail() -> None:
    with transaction.atomic():
        make_job()
        raise RuntimeError("the submission fails after its ring")


@pytest.mark.postgres
def test_a_rolled_back_submission_notifies_nobody() -> None:
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"],
        host=db["HOST"] or "localhost",
        port=db["PORT"] or 5432,
        autocommit=True,
    ) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        with pytest.raises(RuntimeError):
            submit_and_fail()
        ListeningBroker(list_key="marker").enqueue("not a task")
        make_job()
        # Notifications arrive in commit order: the rolled-back ring would come
        # before the marker, the committed one comes after it.
        received = [n.payload for n in listener.notifies(timeout=30, stop_after=2)]
    assert received == ["marker", "oris"]


@pytest.mark.postgres
def test_the_listener_survives_a_terminated_backend(cluster: Cluster) -> None:
    warm_up(cluster)
    (old,) = listener_pids()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [old])

    during = make_job()  # polled for, or read right after reconnecting
    assert wait_until(completed(during), deadline=cluster.deadline()), cluster.output()
    assert wait_until(
        lambda: len(listener_pids() - {old}) == 1, deadline=cluster.deadline()
    )
    after = make_job()
    assert wait_until(completed(after), deadline=cluster.deadline()), cluster.output()
    assert "lost the LISTEN connection" in cluster.output()


def test_a_cluster_on_sqlite_keeps_polling(cluster: Cluster) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's polling is what this test is about")
    warm_up(cluster)
    job = make_job()  # nothing notifies on SQLite: only a poll finds it in time
    assert wait_until(completed(job), deadline=cluster.deadline()), cluster.output()
    assert "listens on" not in cluster.output()


@pytest.mark.postgres
def test_a_claim_inside_a_transaction_leaves_its_commit_durable() -> None:
    # The pusher's claims commit without waiting for the WAL flush; a caller's
    # transaction that claims keeps its own durability.
    with transaction.atomic():
        make_job()
        assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))]
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
