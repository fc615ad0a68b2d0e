"""Real worker processes: a SIGKILL mid-run, and concurrent claimers on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from runtime import selectors
from runtime.models import Attempt, AuditLog, DeadLetter, Job, Lease
from runtime.services import claims, reaper
from runtime.worker import execute
from tests.factories import make_job
from tests.runtime.sample_graphs import TEST_GRAPHS, effects

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def worker_env() -> dict[str, str]:
    """The environment of a worker process on the test database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["ORIS_SQLITE_DB"] = str(db["NAME"])
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    env["ORIS_GRAPHS"] = ",".join(f"{k}={v}" for k, v in TEST_GRAPHS.items())
    return env


def start_qcluster(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``manage.py qcluster`` in its own session, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, MANAGE, "qcluster"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def in_worker(
    code: str, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a worker process (``env`` added to its environment)."""
    return subprocess.run(
        [sys.executable, MANAGE, "shell", "--no-imports", "-c", code],
        env=worker_env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_no", [1, 2, 3])
def test_a_killed_worker_is_recovered_from_the_last_checkpoint(round_no: int) -> None:
    job = make_job("crashy")
    attempt_id = job.attempts.get().pk
    killed = in_worker(
        "from runtime.worker.execute import attempt_execute; "
        f"attempt_execute(attempt_id={attempt_id!r}, worker_id='doomed')"
    )
    assert killed.returncode == -9, killed.stderr
    assert (effects("a"), effects("b"), effects("crash")) == (1, 1, 1)
    assert Lease.objects.get().worker_id == "doomed"
    assert Attempt.objects.get().status == Attempt.Status.RUNNING

    # Nobody heartbeats the dead worker's lease: once it expires it is reaped.
    later = timezone.now() + timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS + 1)
    assert reaper.reap(at=later) == 1
    lease = claims.attempt_claim(worker_id="survivor", at=later)
    assert lease.attempt_id == attempt_id
    assert execute.run_leased(lease=lease) == "completed"

    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    assert job.result["trail"] == ["a", "b", "crash_once", "c"]
    assert (effects("a"), effects("b"), effects("crash"), effects("c")) == (1, 1, 2, 1)
    # The takeover is in the run's timeline, by the system.
    takeover = AuditLog.objects.get(action=AuditLog.LEASE_EXPIRED)
    assert (takeover.actor_type, takeover.resource_id) == ("system", attempt_id)
    assert takeover.details["worker_id"] == "doomed"
    assert takeover.details["outcome"] == "requeued"
    texts = [event.text for event in selectors.job_timeline(job=job)]
    assert any(text.startswith("worker doomed went silent") for text in texts)


CLAIM_ALL = """
import os
from runtime.services.claims import attempt_claim
while (lease := attempt_claim(worker_id=f"w{os.getpid()}")) is not None:
    print(lease.attempt_id, flush=True)
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_claim_each_attempt_exactly_once() -> None:
    created = {make_job().attempts.get().pk for _ in range(60)}
    workers = [
        subprocess.Popen(
            [sys.executable, MANAGE, "shell", "--no-imports", "-c", CLAIM_ALL],
            env=worker_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    claimed = [line for w in workers for line in w.communicate(timeout=120)[0].split()]
    assert sorted(claimed) == sorted(created)
    assert Lease.objects.count() == 60


@pytest.mark.django_db(transaction=True)
def test_a_node_raising_system_exit_fails_its_attempt_not_its_worker() -> None:
    job = make_job("exits")
    survivor = make_job("chain")
    ran = in_worker(
        "from runtime.worker.drain import worker_drain; "
        "print('ran', worker_drain(worker_id='w'))"
    )
    assert ran.returncode == 0, ran.stderr
    assert "ran 2" in ran.stdout  # the worker went on to the next run
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error["type"] == "builtins.SystemExit"
    assert DeadLetter.objects.get(job=job).reason == DeadLetter.Reason.TERMINAL_FAILED
    survivor.refresh_from_db()
    assert survivor.status == Job.Status.COMPLETED


@pytest.mark.django_db(transaction=True)
def test_a_run_that_kills_its_workers_is_dead_lettered_at_the_recovery_limit(
    settings,
) -> None:
    settings.ORIS_MAX_RECOVERY_ATTEMPTS = 2
    job = make_job("dies")
    attempt_id = job.attempts.get().pk
    for dispatch_no in (1, 2):
        died = in_worker(
            "from runtime.worker.execute import attempt_execute; "
            f"attempt_execute(attempt_id={attempt_id!r}, worker_id='w{dispatch_no}')"
        )
        assert died.returncode == 1, died.stderr
        clock = timezone.now() + timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS)
        assert reaper.reap(at=clock) == 1
    assert effects("dies") == 2
    attempt = Attempt.objects.get(pk=attempt_id)
    assert (attempt.status, attempt.dispatches) == (Attempt.Status.FAILED, 2)
    dead = DeadLetter.objects.get(pk=attempt_id)
    assert dead.reason == DeadLetter.Reason.RECOVERY_LIMIT
    assert dead.error["type"] == "runtime.errors.RecoveryLimitExceeded"
    assert Job.objects.get().status == Job.Status.FAILED
    assert claims.attempt_claim(worker_id="w3", at=clock) is None
    outcomes = AuditLog.objects.filter(action=AuditLog.LEASE_EXPIRED).order_by("id")
    assert [row.details["outcome"] for row in outcomes] == [
        "requeued",
        "dead_lettered",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_is_not_the_runs_failure() -> None:
    job = make_job("loses_database")
    ran = in_worker(
        "from runtime.worker.drain import worker_drain; "
        "print('ran', worker_drain(worker_id='w'))"
    )
    assert ran.returncode == 0, ran.stderr
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    assert not DeadLetter.objects.exists()
    assert job.result["trail"] == ["a", "loses_database_once", "c"]
    # The step the connection was lost in ran again; the one before did not.
    assert (effects("a"), effects("loses_database"), effects("c")) == (1, 2, 1)
    attempt = job.attempts.get()
    assert (attempt.attempt_no, attempt.dispatches) == (1, 2)


DIES_AT_THE_SECOND_CLAIM = """
import os, signal
from runtime.services import claims
from runtime.worker.drain import worker_drain
claim, calls = claims.drain_claim, []
def dying(**options):
    if calls:  # the first run's outcome is recorded: the next claim is not sent
        os.kill(os.getpid(), signal.SIGKILL)
    calls.append(1)
    return claim(**options)
claims.drain_claim = dying
worker_drain(worker_id="doomed")
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_an_outcome_and_its_next_claim() -> None:
    """On PostgreSQL a job's outcome commits alone, before the next claim: a
    worker killed between the two leaves its run completed and holds nothing.
    On SQLite the two share a commit: the outcome is lost with the claim and
    the run recovers from its lease once the lease expires."""
    first, second = make_job(), make_job()
    killed = in_worker(DIES_AT_THE_SECOND_CLAIM)
    assert killed.returncode == -9, killed.stderr
    first.refresh_from_db()
    assert Attempt.objects.get(job=second).status == Attempt.Status.QUEUED
    later = timezone.now() + timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS + 1)
    alone = connection.vendor == "postgresql"
    if alone:
        assert first.status == Job.Status.COMPLETED
        assert not Lease.objects.exists()
        assert reaper.reap(at=later) == 0  # nothing to recover
    else:
        assert first.status == Job.Status.RUNNING
        assert Lease.objects.get().worker_id == "doomed"
        assert reaper.reap(at=later) == 1
    ran = in_worker(
        "from runtime.worker.drain import worker_drain; "
        "print('ran', worker_drain(worker_id='survivor'))"
    )
    assert ran.returncode == 0, ran.stderr
    assert f"ran {1 if alone else 2}" in ran.stdout
    assert not Lease.objects.exists()
    for job, dispatches in ((first, 1 if alone else 2), (second, 1)):
        job.refresh_from_db()
        assert job.status == Job.Status.COMPLETED
        attempt = Attempt.objects.get(job=job)
        assert (attempt.status, attempt.dispatches) == ("completed", dispatches)
