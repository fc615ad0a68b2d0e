"""Graph checkpoints, stored as graphs' saver protocol lays them out.

A checkpoint row holds the checkpoint without its channel values; each channel value
is a blob stored once per (channel, version), so a thread's storage grows with what
changed, not with steps x state size. Pending writes are the outputs of tasks that
finished in a superstep that did not complete.
"""

from __future__ import annotations

from django.db import models


class Checkpoint(models.Model):
    thread_id = models.CharField(max_length=256)
    checkpoint_ns = models.CharField(max_length=256, blank=True, default="")
    checkpoint_id = models.CharField(max_length=64)
    parent_checkpoint_id = models.CharField(max_length=64, blank=True, default="")
    checkpoint = models.JSONField()
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["thread_id", "checkpoint_ns", "checkpoint_id"],
                name="checkpoint_unique_id",
            )
        ]  # its index also serves "latest checkpoint of a thread" (read backwards)

    def __str__(self) -> str:
        return f"{self.thread_id}/{self.checkpoint_ns}/{self.checkpoint_id}"


class CheckpointBlob(models.Model):
    thread_id = models.CharField(max_length=256)
    checkpoint_ns = models.CharField(max_length=256, blank=True, default="")
    channel = models.CharField(max_length=256)
    version = models.CharField(max_length=64)
    type = models.CharField(max_length=32)
    value = models.BinaryField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["thread_id", "checkpoint_ns", "channel", "version"],
                name="checkpoint_blob_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.thread_id}/{self.channel}@{self.version}"


class CheckpointWrite(models.Model):
    thread_id = models.CharField(max_length=256)
    checkpoint_ns = models.CharField(max_length=256, blank=True, default="")
    checkpoint_id = models.CharField(max_length=64)
    task_id = models.CharField(max_length=128)
    task_path = models.CharField(max_length=512, blank=True, default="")
    idx = models.IntegerField()
    channel = models.CharField(max_length=256)
    type = models.CharField(max_length=32)
    value = models.BinaryField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "thread_id",
                    "checkpoint_ns",
                    "checkpoint_id",
                    "task_id",
                    "idx",
                ],
                name="checkpoint_write_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.thread_id}/{self.checkpoint_id}/{self.task_id}[{self.idx}]"
