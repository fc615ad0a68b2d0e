"""Oris runtime models; every model is re-exported here."""

from runtime.models.access import ApiKey, AuditLog
from runtime.models.checkpoints import Checkpoint, CheckpointBlob, CheckpointWrite
from runtime.models.clusters import WorkerCluster
from runtime.models.effects import Effect
from runtime.models.interrupts import Interrupt, InterruptVote
from runtime.models.jobs import Attempt, Job, Lease
from runtime.models.ledger import (
    DeadLetter,
    IdempotencyRecord,
    MetricCounter,
    QueueDoorbell,
    RetryHistory,
    StepReport,
)

__all__ = [
    "ApiKey",
    "Attempt",
    "AuditLog",
    "Checkpoint",
    "CheckpointBlob",
    "CheckpointWrite",
    "DeadLetter",
    "Effect",
    "IdempotencyRecord",
    "Interrupt",
    "InterruptVote",
    "Job",
    "Lease",
    "MetricCounter",
    "QueueDoorbell",
    "RetryHistory",
    "StepReport",
    "WorkerCluster",
]
