"""A real ``qcluster`` woken by NOTIFY on PostgreSQL: its idle workers by a
ring's notification (``runtime/worker/serve.py``), its pusher by a q2 task's
(``runtime/worker/broker.py``); polling on SQLite and whenever a LISTEN
connection is gone.

Whether a notification woke the cluster is told apart from a poll by the clock
only at the scale of the fallback: the cluster's workers claim, and its pusher
reads the task table, on their own only when they start, when they reconnect,
and every ``IDLE_POLL`` seconds after that (the scheduler, which could run the
sweep, has no schedules here). A job that runs before ``IDLE_POLL`` seconds
after the cluster started, submitted after the cluster's first look, was
announced by its notification.
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
from django_q.models import OrmQ, Schedule

from runtime.models import Job
from runtime.services.dispatch import WORK_CHANNEL
from runtime.worker.broker import CHANNEL
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


def listener_pids(channel: str) -> set[int]:
    """The backends of this database that LISTEN on ``channel`` (the cluster's
    pusher on ``CHANNEL``, its workers on ``WORK_CHANNEL``)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query = %s AND pid <> pg_backend_pid()",
            [f'LISTEN "{channel}"'],
        )
        return {pid for (pid,) in cursor.fetchall()}


def listeners() -> set[int]:
    return listener_pids(CHANNEL) | listener_pids(WORK_CHANNEL)


def warm_up(cluster: Cluster) -> None:
    """Runs a first job, so the cluster has read the task table since it started."""
    first = make_job()
    assert wait_until(completed(first), deadline=time.monotonic() + STARTUP), (
        cluster.output()
    )


@pytest.mark.postgres
def test_a_notification_wakes_an_idle_worker(cluster: Cluster) -> None:
    warm_up(cluster)
    job = make_job()
    assert not OrmQ.objects.exists()  # no q2 task: a worker claims it itself
    assert wait_until(completed(job), deadline=cluster.deadline()), cluster.output()
    assert wait_until(
        lambda: len(listener_pids(WORK_CHANNEL)) == 2, deadline=cluster.deadline()
    )


@pytest.mark.postgres
@pytest.mark.usefixtures("q2_rings")
def test_a_q2_task_wakes_an_idle_pusher(cluster: Cluster) -> None:
    # Rung as a q2 task (a submitter with ORIS_Q_LISTEN off): the pusher
    # hears its notification and hands it to a worker.
    warm_up(cluster)
    job = make_job()
    assert OrmQ.objects.exists()
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
        listener.execute(f"LISTEN {WORK_CHANNEL}")
        with pytest.raises(RuntimeError):
            submit_and_fail()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, 'marker')", [WORK_CHANNEL])
        make_job()
        # Notifications arrive in commit order: the rolled-back ring would come
        # before the marker, the committed one comes after it.
        received = [n.payload for n in listener.notifies(timeout=30, stop_after=2)]
    assert received == ["marker", "default"]


@pytest.mark.postgres
def test_the_listeners_survive_terminated_backends(cluster: Cluster) -> None:
    warm_up(cluster)
    assert wait_until(
        lambda: len(listener_pids(WORK_CHANNEL)) == 2, deadline=cluster.deadline()
    )
    old = listeners()
    assert len(old) == 3  # the pusher's and the two workers'
    with connection.cursor() as cursor:
        for pid in old:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    during = make_job()  # polled for, or claimed right after reconnecting
    assert wait_until(completed(during), deadline=cluster.deadline()), cluster.output()
    assert wait_until(
        lambda: len(listeners() - old) == 3,
        deadline=cluster.deadline(),
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
@pytest.mark.usefixtures("q2_rings")
def test_a_claim_inside_a_transaction_leaves_its_commit_durable() -> None:
    # The pusher's claims commit without waiting for the WAL flush; a caller's
    # transaction that claims keeps its own durability.
    with transaction.atomic():
        make_job()
        assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))]
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
