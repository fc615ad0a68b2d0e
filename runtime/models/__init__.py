"""Oris runtime models; every model is re-exported here."""

from runtime.models.access import ApiKey, AuditLog
from runtime.models.agent_server import Run, RunEvent, Thread
from runtime.models.checkpoints import Checkpoint, CheckpointBlob, CheckpointWrite
from runtime.models.clusters import WorkerCluster
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
from runtime.models.store import StoreItem

__all__ = [
    "ApiKey",
    "Attempt",
    "AuditLog",
    "Checkpoint",
    "CheckpointBlob",
    "CheckpointWrite",
    "DeadLetter",
    "IdempotencyRecord",
    "Interrupt",
    "InterruptVote",
    "Job",
    "Lease",
    "MetricCounter",
    "QueueDoorbell",
    "RetryHistory",
    "Run",
    "RunEvent",
    "StepReport",
    "StoreItem",
    "Thread",
    "WorkerCluster",
]
