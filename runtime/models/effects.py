"""The effect ledger: one row per model call, tool call or marked function of a
durable run (see ``graphs.effects``).

Rows are written by the checkpointer in the transaction of the task's writes (the
superstep's checkpoint or its pending writes), keyed by the effect's stable key, so
a task that runs again after a crash is answered from here. Tokens and cost are
columns, so usage can be summed per run or tenant.
"""

from __future__ import annotations

from django.db import models


class Effect(models.Model):
    class Outcome(models.TextChoices):
        OK = "ok"
        ERROR = "error"

    class Kind(models.TextChoices):
        MODEL = "model"
        TOOL = "tool"
        FUNCTION = "function"

    key = models.CharField(max_length=64, primary_key=True)
    thread_id = models.CharField(max_length=256)
    checkpoint_ns = models.CharField(max_length=256, blank=True, default="")
    checkpoint_id = models.CharField(max_length=64)
    task_id = models.CharField(max_length=128)
    task_path = models.CharField(max_length=512, blank=True, default="")
    step = models.IntegerField()
    idx = models.IntegerField()
    kind = models.CharField(max_length=16, choices=Kind)
    name = models.CharField(max_length=256)
    request = models.JSONField()
    response = models.JSONField(null=True)
    outcome = models.CharField(max_length=8, choices=Outcome)
    error = models.JSONField(null=True)
    input_tokens = models.IntegerField(default=0)
    output_tokens = models.IntegerField(default=0)
    total_tokens = models.IntegerField(default=0)
    cost_usd = models.FloatField(default=0.0)
    duration_ms = models.FloatField(default=0.0)
    started_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["thread_id", "checkpoint_ns", "checkpoint_id"],
                name="effect_by_checkpoint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id}/{self.kind}:{self.name}#{self.idx}"
