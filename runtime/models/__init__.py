"""Oris runtime models; every model is re-exported here."""

from runtime.models.access import ApiKey, AuditLog
from runtime.models.agent_server import Cron, Run, RunEvent, Thread
from runtime.models.assistants import Assistant, AssistantVersion
from runtime.models.budgets import BudgetPolicy, RunUsage
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
from runtime.models.retention import RetentionPolicy
from runtime.models.store import StoreItem

__all__ = [
    "ApiKey",
    "Assistant",
    "AssistantVersion",
    "Attempt",
    "AuditLog",
    "BudgetPolicy",
    "Checkpoint",
    "CheckpointBlob",
    "CheckpointWrite",
    "Cron",
    "DeadLetter",
    "Effect",
    "IdempotencyRecord",
    "Interrupt",
    "InterruptVote",
    "Job",
    "Lease",
    "MetricCounter",
    "QueueDoorbell",
    "RetentionPolicy",
    "RetryHistory",
    "Run",
    "RunEvent",
    "RunUsage",
    "StepReport",
    "StoreItem",
    "Thread",
    "WorkerCluster",
]
