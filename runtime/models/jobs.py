"""Jobs, their attempts and the leases workers hold on attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import models
from django.db.models import Q


def new_attempt_id() -> str:
    return f"attempt-{uuid.uuid4().hex}"


def new_lease_id() -> str:
    return f"lease-{uuid.uuid4().hex}"


class TimeoutStatus(models.TextChoices):
    FAILED = "failed"  # the timed-out attempt fails and is dead-lettered
    CANCELLED = "cancelled"  # the timed-out attempt is cancelled


class Job(models.Model):
    """One durable run of a registered graph, identified by its thread id."""

    class Status(models.TextChoices):
        QUEUED = "queued"  # accepted; an attempt waits for a worker
        RUNNING = "running"  # a worker holds a lease on the current attempt
        INTERRUPTED = "interrupted"  # paused at an interrupt, waiting for a person
        COMPLETED = "completed"  # the graph reached END (final)
        FAILED = "failed"  # retries exhausted or timed out; dead-lettered (final)
        CANCELLED = "cancelled"  # cancelled or rejected (final)

    thread_id = models.CharField(max_length=256, unique=True)
    graph = models.CharField(max_length=128)
    graph_hash = models.CharField(max_length=64)
    input = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    priority = models.IntegerField(default=0)
    tenant_id = models.CharField(max_length=128, blank=True, default="")
    queue = models.CharField(max_length=64, default="default")
    timeout_ms = models.BigIntegerField(null=True, blank=True)
    timeout_status = models.CharField(
        max_length=16, choices=TimeoutStatus, blank=True, default=""
    )
    retry_policy = models.JSONField(null=True, blank=True)
    trace = models.JSONField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    cancel_reason = models.TextField(blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # When retention last pruned the thread's checkpoints; a run that finishes
    # again (a replay) makes it a candidate once more.
    pruned_at = models.DateTimeField(null=True, blank=True)
    # a counterfactual fork: the job and checkpoint it continues, and the
    # overrides (model, temperature, system prompt, tool results) it runs with
    fork_of = models.CharField(max_length=256, blank=True, default="")
    fork_checkpoint_id = models.CharField(max_length=64, blank=True, default="")
    effect_overrides = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-updated_at"], name="job_status_updated"),
            models.Index(fields=["-updated_at"], name="job_updated"),
            models.Index(fields=["tenant_id", "status"], name="job_tenant_status"),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id} ({self.graph}, {self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in JOB_TERMINAL


JOB_TERMINAL = frozenset(
    {Job.Status.COMPLETED, Job.Status.FAILED, Job.Status.CANCELLED}
)
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    Job.Status.QUEUED: frozenset(
        {Job.Status.RUNNING, Job.Status.CANCELLED, Job.Status.FAILED}
    ),
    Job.Status.RUNNING: frozenset(
        {
            Job.Status.QUEUED,  # lease lost or retry scheduled
            Job.Status.INTERRUPTED,
            Job.Status.COMPLETED,
            Job.Status.FAILED,
            Job.Status.CANCELLED,
        }
    ),
    Job.Status.INTERRUPTED: frozenset({Job.Status.QUEUED, Job.Status.CANCELLED}),
    # Dead letters and replays from a checkpoint bring a job back.
    Job.Status.FAILED: frozenset({Job.Status.QUEUED}),
    Job.Status.COMPLETED: frozenset({Job.Status.QUEUED}),
    # An Agent Server thread runs again after a cancelled run (its next run).
    Job.Status.CANCELLED: frozenset({Job.Status.QUEUED}),
}


class Attempt(models.Model):
    """One unit of execution of a job: the first run, a resume or a replay.

    A retry keeps the row and increments ``attempt_no``, as in the reference.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"  # waiting for a worker
        LEASED = "leased"  # a worker claimed it and holds the lease
        RUNNING = "running"  # the worker is executing supersteps
        RETRY_BACKOFF = "retry_backoff"  # failed; dispatchable again at retry_at
        COMPLETED = "completed"  # reached END or an interrupt (final)
        FAILED = "failed"  # failed with no retry left, or timed out (final)
        CANCELLED = "cancelled"  # cancelled or superseded (final)

    class Kind(models.TextChoices):
        RUN = "run"  # start from the input
        RESUME = "resume"  # continue from the checkpoint with a resume value
        REPLAY = "replay"  # continue from a chosen checkpoint
        NEXT_RUN = "next_run"  # an Agent Server thread's next run, from its head

    id = models.CharField(max_length=64, primary_key=True, default=new_attempt_id)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="attempts")
    kind = models.CharField(max_length=8, choices=Kind, default=Kind.RUN)
    attempt_no = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status, default=Status.QUEUED)
    dispatches = models.PositiveIntegerField(default=0)  # claims, recoveries included
    queue = models.CharField(max_length=64, default="default")
    priority = models.IntegerField(default=0)
    tenant_id = models.CharField(max_length=128, blank=True, default="")
    retry_policy = models.JSONField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    timeout_ms = models.BigIntegerField(null=True, blank=True)
    timeout_status = models.CharField(
        max_length=16, choices=TimeoutStatus, blank=True, default=""
    )
    resume = models.JSONField(null=True, blank=True)
    checkpoint_id = models.CharField(max_length=64, blank=True, default="")
    trace = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Not a column: whether an Agent Server run executes this attempt, as the
    # claim that loaded it read it; ``None`` when not known (ask the database).
    # A run is given its attempt in the transaction that creates the attempt,
    # so what a claim reads stays true while the attempt runs.
    serves_run: bool | None = None

    class Meta:
        indexes = [
            # Dispatch: queue, then priority, then age (attempt_no, creation).
            models.Index(
                fields=["queue", "status", "-priority", "created_at"],
                name="attempt_dispatch",
                condition=Q(status__in=["queued", "retry_backoff"]),
            ),
            models.Index(fields=["status", "started_at"], name="attempt_running"),
        ]

    def __str__(self) -> str:
        return f"{self.id} #{self.attempt_no} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in ATTEMPT_TERMINAL


ATTEMPT_TERMINAL = frozenset(
    {Attempt.Status.COMPLETED, Attempt.Status.FAILED, Attempt.Status.CANCELLED}
)
ATTEMPT_DISPATCHABLE = frozenset({Attempt.Status.QUEUED, Attempt.Status.RETRY_BACKOFF})
ATTEMPT_TRANSITIONS: dict[str, frozenset[str]] = {
    # In-process workers claim straight into RUNNING; HTTP workers into LEASED.
    Attempt.Status.QUEUED: frozenset(
        {
            Attempt.Status.LEASED,
            Attempt.Status.RUNNING,
            # A delayed start (an Agent Server run's after_seconds) waits for
            # its retry_at as a retry does.
            Attempt.Status.RETRY_BACKOFF,
            Attempt.Status.CANCELLED,
            Attempt.Status.FAILED,
        }
    ),
    Attempt.Status.RETRY_BACKOFF: frozenset(
        {
            Attempt.Status.LEASED,
            Attempt.Status.RUNNING,
            Attempt.Status.CANCELLED,
            Attempt.Status.FAILED,
        }
    ),
    Attempt.Status.LEASED: frozenset(
        {
            Attempt.Status.RUNNING,
            Attempt.Status.QUEUED,
            Attempt.Status.RETRY_BACKOFF,
            *ATTEMPT_TERMINAL,
        }
    ),
    Attempt.Status.RUNNING: frozenset(
        {Attempt.Status.QUEUED, Attempt.Status.RETRY_BACKOFF, *ATTEMPT_TERMINAL}
    ),
    # A dead-lettered attempt is replayed by requeueing it.
    Attempt.Status.FAILED: frozenset({Attempt.Status.QUEUED}),
    Attempt.Status.COMPLETED: frozenset(),
    Attempt.Status.CANCELLED: frozenset(),
}


class Lease(models.Model):
    """A worker's claim on an attempt; ``id`` + ``version`` fence every write."""

    id = models.CharField(max_length=64, primary_key=True, default=new_lease_id)
    attempt = models.OneToOneField(
        Attempt, on_delete=models.CASCADE, related_name="lease"
    )
    worker_id = models.CharField(max_length=128)
    version = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], name="lease_expiry"),
            models.Index(fields=["worker_id", "expires_at"], name="lease_worker"),
        ]

    def __str__(self) -> str:
        return f"{self.id} on {self.attempt_id} by {self.worker_id}"

    def is_expired(self, *, at: datetime) -> bool:
        return self.expires_at <= at
