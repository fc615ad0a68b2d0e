"""Interrupts: a paused run waiting for a person's answer."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from runtime.models.jobs import Attempt, Job


def new_interrupt_id() -> str:
    return f"int-{uuid.uuid4().hex}"


class Interrupt(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for an answer
        RESUMED = "resumed"  # answered; a resume attempt continues the run (final)
        REJECTED = "rejected"  # refused; the job is cancelled (final)
        CANCELLED = "cancelled"  # the job was cancelled while it waited (final)
        # closed by a person without an answer; the run ends cancelled (final)
        DISMISSED = "dismissed"

    id = models.CharField(max_length=64, primary_key=True, default=new_interrupt_id)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="interrupts")
    attempt = models.ForeignKey(
        Attempt, on_delete=models.CASCADE, related_name="interrupts"
    )
    graph_interrupt_id = models.CharField(max_length=128)
    value = models.JSONField(null=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.PENDING)
    resume_value = models.JSONField(null=True, blank=True)
    resume_hash = models.CharField(max_length=64, blank=True, default="")
    resume_attempt = models.ForeignKey(
        Attempt,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="resolved_interrupts",
    )
    reason = models.TextField(blank=True, default="")
    resolved_by = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The approval policy declared with the interrupt (graphs.InterruptPolicy as
    # JSON), and where it stands: who may answer now, who took it, the deadline.
    policy = models.JSONField(null=True, blank=True)
    assignee = models.CharField(max_length=256, blank=True, default="")
    assignee_group = models.CharField(max_length=150, blank=True, default="")
    claimed_by = models.CharField(max_length=256, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="interrupt_pending",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["status", "-created_at"], name="interrupt_status"),
            models.Index(
                fields=["deadline_at"],
                name="interrupt_deadline",
                condition=Q(status="pending", deadline_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class InterruptVote(models.Model):
    """One person's answer to an interrupt whose policy needs a quorum."""

    class Decision(models.TextChoices):
        APPROVE = "approve"  # counts toward the quorum
        REJECT = "reject"  # ends the interrupt: the run is cancelled

    interrupt = models.ForeignKey(
        Interrupt, on_delete=models.CASCADE, related_name="votes"
    )
    voter = models.CharField(max_length=256)
    decision = models.CharField(max_length=16, choices=Decision)
    value = models.JSONField(null=True, blank=True)
    value_hash = models.CharField(max_length=64, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["interrupt", "voter"], name="interrupt_vote_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.voter} {self.decision} {self.interrupt_id}"


INTERRUPT_TRANSITIONS: dict[str, frozenset[str]] = {
    Interrupt.Status.PENDING: frozenset(
        {
            Interrupt.Status.RESUMED,
            Interrupt.Status.REJECTED,
            Interrupt.Status.CANCELLED,
            Interrupt.Status.DISMISSED,
        }
    ),
    Interrupt.Status.RESUMED: frozenset(),
    Interrupt.Status.REJECTED: frozenset(),
    Interrupt.Status.CANCELLED: frozenset(),
    Interrupt.Status.DISMISSED: frozenset(),
}
