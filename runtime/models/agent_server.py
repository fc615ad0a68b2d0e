"""The LangGraph Agent Server API's threads, runs and run events.

A thread is the Agent Server's conversation; its first run creates the Oris job of
the same thread id, so the thread's checkpoints are the job's. A run is one attempt
of that job (``attempt`` is empty while the run waits its turn behind another run of
the thread). Every event a run streams is stored with a per-run sequence, so a
client that reconnects with ``Last-Event-ID`` continues where it left off. A cron
starts a run on its schedule.
"""

from __future__ import annotations

import uuid

from django.db import models

from runtime.models.jobs import Attempt, Job


class Thread(models.Model):
    thread_id = models.CharField(max_length=256, primary_key=True)
    job = models.OneToOneField(
        Job,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agent_thread",
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # A TTL (``threads.create(ttl=...)``): the retention sweep erases the thread
    # once ``expires_at`` has passed (LangGraph's strategy ``delete``).
    ttl_minutes = models.FloatField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-updated_at"], name="thread_updated"),
            models.Index(
                fields=["expires_at"],
                name="thread_expires",
                condition=models.Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.thread_id


class Run(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for a worker, or behind another run
        RUNNING = "running"  # a worker is executing it
        SUCCESS = "success"  # the graph reached its end (final)
        ERROR = "error"  # the graph raised (final)
        TIMEOUT = "timeout"  # its time ran out (final)
        INTERRUPTED = "interrupted"  # paused at an interrupt, or cancelled (final)

    class Strategy(models.TextChoices):
        REJECT = "reject"
        ENQUEUE = "enqueue"
        INTERRUPT = "interrupt"
        ROLLBACK = "rollback"

    run_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    assistant_id = models.UUIDField()
    graph = models.CharField(max_length=128)
    attempt = models.OneToOneField(
        Attempt,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="agent_run",
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    multitask_strategy = models.CharField(
        max_length=16, choices=Strategy, default=Strategy.ENQUEUE
    )
    kwargs = models.JSONField(default=dict, blank=True)  # input, command, modes...
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["thread", "-created_at"], name="run_thread_created"),
            models.Index(fields=["status", "created_at"], name="run_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} on {self.thread_id} ({self.status})"


RUN_FINAL = frozenset(
    {
        Run.Status.SUCCESS,
        Run.Status.ERROR,
        Run.Status.TIMEOUT,
        Run.Status.INTERRUPTED,
    }
)


class RunEvent(models.Model):
    """One Server-Sent Event of a run: its name and its JSON data as sent."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()  # the event's id: strictly increasing
    event = models.CharField(max_length=256)
    data = models.TextField()  # one line of JSON
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "seq"], name="run_event_seq")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.seq} {self.event}"


class Cron(models.Model):
    """A schedule that starts runs: on its thread, or on a new thread each time."""

    class OnCompletion(models.TextChoices):
        DELETE = "delete"  # a stateless cron's thread is deleted after its run
        KEEP = "keep"

    cron_id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    assistant_id = models.UUIDField()
    graph = models.CharField(max_length=128)
    thread = models.ForeignKey(
        Thread, null=True, blank=True, on_delete=models.CASCADE, related_name="crons"
    )
    schedule = models.CharField(max_length=256)  # five fields, as cron reads them
    timezone = models.CharField(max_length=64, blank=True, default="")  # IANA; UTC
    end_time = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    on_run_completed = models.CharField(
        max_length=8, choices=OnCompletion, default=OnCompletion.DELETE
    )
    payload = models.JSONField(default=dict, blank=True)  # the runs' request
    metadata = models.JSONField(default=dict, blank=True)
    user_id = models.CharField(max_length=256, blank=True, default="")
    next_run_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["next_run_date"],
                name="cron_due",
                condition=models.Q(enabled=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.cron_id} {self.schedule!r} ({self.graph})"
