"""Records around attempts: dead letters, retries, step reports, idempotency."""

from __future__ import annotations

from django.db import models

from runtime.models.jobs import Attempt, Job


class DeadLetter(models.Model):
    """An attempt that failed for good, waiting for an operator to replay it."""

    class ReplayStatus(models.TextChoices):
        PENDING = "pending"  # dead; can be replayed
        REPLAYED = "replayed"  # requeued by an operator

    class Reason(models.TextChoices):
        TERMINAL_FAILED = "terminal_failed"  # failed with no retry left
        EXECUTION_TIMEOUT = "execution_timeout"  # ran past its timeout
        # dispatched ORIS_MAX_RECOVERY_ATTEMPTS times without an outcome: its
        # workers died running it (a poison pill)
        RECOVERY_LIMIT = "recovery_limit"

    attempt = models.OneToOneField(
        Attempt, on_delete=models.CASCADE, primary_key=True, related_name="dead_letter"
    )
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="dead_letters")
    attempt_no = models.PositiveIntegerField()
    terminal_status = models.CharField(max_length=16, default="failed")
    reason = models.CharField(max_length=32, choices=Reason)
    error = models.JSONField(null=True, blank=True)
    replay_status = models.CharField(
        max_length=16, choices=ReplayStatus, default=ReplayStatus.PENDING
    )
    replay_count = models.PositiveIntegerField(default=0)
    dead_at = models.DateTimeField()
    last_replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["replay_status", "-dead_at"], name="dead_letter_status"
            )
        ]

    def __str__(self) -> str:
        return f"dead letter {self.attempt_id} ({self.replay_status})"


class RetryHistory(models.Model):
    attempt = models.ForeignKey(
        Attempt, on_delete=models.CASCADE, related_name="retries"
    )
    attempt_no = models.PositiveIntegerField()
    strategy = models.CharField(max_length=16)
    backoff_ms = models.BigIntegerField()
    max_retries = models.PositiveIntegerField()
    error = models.JSONField(null=True, blank=True)
    scheduled_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"retry of {self.attempt_id} as #{self.attempt_no}"


class StepReport(models.Model):
    attempt = models.ForeignKey(
        Attempt, on_delete=models.CASCADE, related_name="step_reports"
    )
    worker_id = models.CharField(max_length=128)
    action_id = models.CharField(max_length=256)
    status = models.CharField(max_length=64)
    dedupe_token = models.CharField(max_length=256)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "dedupe_token"], name="step_report_dedupe"
            )
        ]

    def __str__(self) -> str:
        return f"{self.attempt_id}: {self.action_id} {self.status}"


class IdempotencyRecord(models.Model):
    """Reserved before execution, so concurrent duplicates run once."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"  # reserved; the operation is running
        COMPLETED = "completed"  # the stored response is replayed

    key = models.CharField(max_length=256, primary_key=True)
    operation = models.CharField(max_length=32)
    thread_id = models.CharField(max_length=256)
    payload_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status, default=Status.IN_PROGRESS)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"


class MetricCounter(models.Model):
    """A Prometheus series kept in the database, so every process adds to one
    total and a scrape of any web process sees the whole cluster."""

    name = models.CharField(max_length=128)
    labels = models.CharField(max_length=256, blank=True, default="")
    value = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "labels"], name="metric_series")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.value}"


class QueueDoorbell(models.Model):
    """How many django-q2 deliveries are queued, not yet started, for a queue.

    Each delivery drains the queue, so a few pending ones serve any number of
    attempts; ringing stops at one pending delivery per q2 worker.
    """

    queue = models.CharField(max_length=64, primary_key=True)
    pending = models.PositiveIntegerField(default=0)
    rung_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.queue}: {self.pending} pending"
