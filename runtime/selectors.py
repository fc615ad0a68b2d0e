"""Reads for the API, the console and the CLI."""

from __future__ import annotations

from django.db.models import QuerySet

from runtime.errors import JobNotFound, NotFound
from runtime.models import Interrupt, Job


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


def interrupt_get(*, interrupt_id: str) -> Interrupt:
    found = Interrupt.objects.select_related("job").filter(pk=interrupt_id).first()
    if found is None:
        raise NotFound("interrupt not found")
    return found


def interrupt_list_pending(*, job: Job) -> QuerySet[Interrupt]:
    return job.interrupts.filter(status=Interrupt.Status.PENDING).order_by("created_at")
