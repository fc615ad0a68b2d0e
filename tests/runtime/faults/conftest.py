"""Supervised clusters as real process trees, on the test database, with a lease
TTL of a few seconds so that a fault recovers quickly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from runtime import registry
from runtime.models import Job, WorkerCluster
from tests.factories import make_job
from tests.runtime.sample_graphs import TEST_GRAPHS, effects
from tests.runtime.test_crash_recovery import MANAGE, worker_env

from .graphs import NODES

TTL = 3  # seconds: the lease TTL, q2's retry and the stall bound of the clusters
# Recovered "within the bound": twice the TTL, plus room for a loaded machine
# to start a cluster (a restart) and schedule the processes.
RECOVERY_BOUND = 2 * TTL + 10
GRAPHS = {**TEST_GRAPHS, "steady": "tests.runtime.faults.graphs:build_steady"}
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T], timeout: float = 60) -> T:
    """Polls ``probe`` until it returns something truthy; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return found


class Supervised:
    """One ``manage.py oris_worker`` process and the cluster it runs."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, MANAGE, "oris_worker"],
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def record(self) -> WorkerCluster | None:
        return WorkerCluster.objects.filter(
            id__contains=f":{self.process.pid}:"
        ).first()

    def cluster_pid(self) -> int:
        record = wait_for("the cluster record", self.record)
        return record.pid

    def owns(self, worker_id: str) -> bool:
        """Whether a lease's worker is a process of this cluster."""
        try:
            pid = int(worker_id.rsplit(":", 1)[1])
            return os.getpgid(pid) == self.cluster_pid()
        except (ValueError, ProcessLookupError):
            return False

    def kill_cluster(self) -> None:
        """SIGKILL of the cluster: its q2 main process, sentinel and workers."""
        os.killpg(self.cluster_pid(), signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL of the supervisor and its cluster (its host died)."""
        pid = self.cluster_pid()
        os.killpg(self.process.pid, signal.SIGKILL)
        os.killpg(pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def fault_env(settings, monkeypatch) -> dict[str, str]:
    settings.ORIS_GRAPHS = GRAPHS
    registry._cache.clear()
    monkeypatch.setenv("ORIS_TEST_STEP_SECONDS", "0.3")
    env = worker_env()
    env |= {
        "ORIS_GRAPHS": ",".join(f"{k}={v}" for k, v in GRAPHS.items()),
        "ORIS_LEASE_TTL_SECONDS": str(TTL),
        "ORIS_HEARTBEAT_INTERVAL_SECONDS": "1",
        "ORIS_CLUSTER_STALL_SECONDS": str(TTL),
        "ORIS_WORKERS": "2",
    }
    return env


@pytest.fixture
def supervise(
    transactional_db, fault_env, tmp_path
) -> Iterator[Callable[..., Supervised]]:
    """Starts supervisors; stops them (before the database is flushed)."""
    started: list[Supervised] = []

    def start(**env: str) -> Supervised:
        log = tmp_path / f"supervisor-{len(started)}.log"
        started.append(Supervised({**fault_env, **env}, log))
        return started[-1]

    yield start
    for supervised in started:
        supervised.stop()


def submit(count: int, *, first: int = 0) -> list[Job]:
    """``count`` jobs, their effects counted under values ``first`` onwards."""
    return [make_job("steady", {"value": n}) for n in range(first, first + count)]


def assert_completed_once_per_node(jobs: list[Job], reruns_allowed: int) -> None:
    """Every job completed with each node in its result once; a node ran again
    only where a run was killed in it (at most ``reruns_allowed`` times)."""
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Job.Status.COMPLETED, job.error
        assert job.result["trail"] == list(NODES)
    counts = [effects(f"{node}-{n}") for n in range(len(jobs)) for node in NODES]
    assert min(counts) == 1
    assert sum(counts) - len(counts) <= reruns_allowed


def all_completed(jobs: list[Job]) -> bool:
    ids = [job.pk for job in jobs]
    done = Job.objects.filter(pk__in=ids, status=Job.Status.COMPLETED).count()
    return done == len(ids)
