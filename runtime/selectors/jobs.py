"""Reads of jobs and their rows: lookups, lists, attempts, interrupts, waiting."""

from __future__ import annotations

import time

from django.db.models import QuerySet

from runtime.errors import JobNotFound, NotFound
from runtime.models import Attempt, DeadLetter, Interrupt, Job

# Where a waiting client is answered: the run paused, ended or was stopped.
SETTLED = frozenset(
    {
        Job.Status.INTERRUPTED,
        Job.Status.COMPLETED,
        Job.Status.FAILED,
        Job.Status.CANCELLED,
    }
)


def job_get(*, thread_id: str) -> Job:
    job = Job.objects.filter(thread_id=thread_id).first()
    if job is None:
        raise JobNotFound(f"job '{thread_id}' not found")
    return job


def job_list(*, status: str = "", limit: int = 50, offset: int = 0) -> QuerySet[Job]:
    jobs = Job.objects.order_by("-updated_at", "-id")
    if status:
        jobs = jobs.filter(status=status)
    return jobs[offset : offset + limit]


def job_wait_settled(*, job: Job, wait_ms: int) -> Job:
    """Blocks until the job completes, interrupts or fails, or ``wait_ms`` passes."""
    deadline = time.monotonic() + wait_ms / 1000
    while job.status not in SETTLED and time.monotonic() < deadline:
        time.sleep(0.02)
        job.refresh_from_db(fields=["status", "updated_at"])
    return job


def job_attempts(*, job: Job) -> QuerySet[Attempt]:
    """The job's attempts, oldest first."""
    return job.attempts.order_by("created_at")


def job_latest_attempt(*, job: Job) -> Attempt | None:
    return job.attempts.order_by("-created_at").first()


def job_interrupts(*, job: Job) -> QuerySet[Interrupt]:
    """Every interrupt the job reached, oldest first."""
    return job.interrupts.order_by("created_at")


def job_dead_letters(*, job: Job) -> QuerySet[DeadLetter]:
    return job.dead_letters.order_by("dead_at")


def interrupt_get(*, interrupt_id: str) -> Interrupt:
    found = Interrupt.objects.select_related("job").filter(pk=interrupt_id).first()
    if found is None:
        raise NotFound("interrupt not found")
    return found


def interrupt_list_pending(*, job: Job) -> QuerySet[Interrupt]:
    return job.interrupts.filter(status=Interrupt.Status.PENDING).order_by("created_at")


def interrupt_last_pending(*, job: Job) -> Interrupt | None:
    return job.interrupts.filter(status=Interrupt.Status.PENDING).last()


def interrupt_list(
    *, status: str = "", run_id: str = "", limit: int = 50
) -> QuerySet[Interrupt]:
    """Interrupts newest first, optionally of one status and one thread."""
    found = Interrupt.objects.select_related("job").order_by("-created_at")
    if status:
        found = found.filter(status=status)
    if run_id:
        found = found.filter(job__thread_id=run_id)
    return found[:limit]
