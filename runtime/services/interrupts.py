"""Interrupts: resume with a value, or reject (which cancels the job)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from runtime.errors import InterruptAlreadyResolved
from runtime.models import Attempt, Interrupt, Job
from runtime.services.audit import Actor, audit_record
from runtime.services.jobs import (
    _cancel_now,
    job_check_definition,
    job_enqueue_continuation,
)
from runtime.services.transitions import transition


def resume_hash(value: Any) -> str:
    """The reference's fingerprint of a resume value (compact, sorted keys)."""
    canonical = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_pending(interrupt: Interrupt, *, resume_hash: str = "") -> Interrupt | None:
    """Locks the interrupt; ``None`` when it was already resumed with the same
    answer (a harmless repeat), ``InterruptAlreadyResolved`` if it is not pending."""
    current = Interrupt.objects.select_for_update().get(pk=interrupt.pk)
    repeat = current.status == Interrupt.Status.RESUMED and current.resume_hash
    if repeat and current.resume_hash == resume_hash:
        return None
    if current.status != Interrupt.Status.PENDING:
        raise InterruptAlreadyResolved(
            f"interrupt already {current.status}",
            details={"status": current.status},
        )
    return current


def interrupt_resume(
    *,
    interrupt: Interrupt,
    value: Any,
    actor: Actor,
    at: datetime | None = None,
) -> Interrupt:
    """Answers an interrupt. Once every interrupt the run is waiting on is
    answered, a resume attempt continues from the checkpoint with the answers.

    Answering again with the same value is harmless (idempotent); with a different
    value it is a conflict.
    """
    now = at or timezone.now()
    digest = resume_hash(value)
    with transaction.atomic():
        current = _lock_pending(interrupt, resume_hash=digest)
        if current is None:
            return Interrupt.objects.get(pk=interrupt.pk)
        job_check_definition(job=current.job, actor=actor, at=now)
        transition(
            Interrupt,
            interrupt.pk,
            to=Interrupt.Status.RESUMED,
            resume_value=value,
            resume_hash=digest,
            resolved_by=str(actor),
            resolved_at=now,
        )
        waiting = Interrupt.objects.filter(
            attempt_id=current.attempt_id, status=Interrupt.Status.PENDING
        )
        if not waiting.exists():
            _resume_job(current, now)
        audit_record(
            actor=actor,
            action="interrupt.resume",
            resource_type="interrupt",
            resource_id=interrupt.pk,
            details={"thread_id": current.job.thread_id},
            at=now,
        )
    current.refresh_from_db()
    return current


def _resume_job(interrupt: Interrupt, now: datetime) -> None:
    answers = Interrupt.objects.filter(attempt_id=interrupt.attempt_id)
    resume = {i.graph_interrupt_id: i.resume_value for i in answers}
    attempt = job_enqueue_continuation(
        job=interrupt.job,
        kind=Attempt.Kind.RESUME,
        sources=[Job.Status.INTERRUPTED],
        at=now,
        resume=resume,
    )
    answers.update(resume_attempt=attempt)


def interrupt_reject(
    *,
    interrupt: Interrupt,
    actor: Actor,
    reason: str = "",
    at: datetime | None = None,
) -> Interrupt:
    """Refuses an interrupt: the job is cancelled with the reason."""
    return _close(
        interrupt,
        to=Interrupt.Status.REJECTED,
        actor=actor,
        reason=reason,
        cancel_reason=reason or "interrupt rejected",
        at=at,
    )


def interrupt_dismiss(
    *,
    interrupt: Interrupt,
    actor: Actor,
    reason: str = "",
    at: datetime | None = None,
) -> Interrupt:
    """Ends the run without acting on its request (Agent Inbox's "ignore"): the
    graph gets no answer and no node runs again; the interrupt is ``dismissed``
    and the job ``cancelled``, its checkpoints kept (it can still be replayed).

    Unlike a rejection, which refuses the request and says why, a dismissal
    says the request needs no decision (a duplicate, an obsolete run)."""
    return _close(
        interrupt,
        to=Interrupt.Status.DISMISSED,
        actor=actor,
        reason=reason,
        cancel_reason=f"interrupt dismissed by {actor}"
        + (f": {reason}" if reason else ""),
        at=at,
    )


def _close(
    interrupt: Interrupt,
    *,
    to: Interrupt.Status,
    actor: Actor,
    reason: str,
    cancel_reason: str,
    at: datetime | None,
) -> Interrupt:
    """Closes a pending interrupt without an answer and cancels its job."""
    now = at or timezone.now()
    with transaction.atomic():
        current = _lock_pending(interrupt)
        assert current is not None  # only a resume can be a harmless repeat
        transition(
            Interrupt,
            interrupt.pk,
            to=to,
            reason=reason,
            resolved_by=str(actor),
            resolved_at=now,
        )
        job = Job.objects.get(pk=current.job_id)
        Job.objects.filter(pk=job.pk).update(
            cancel_requested=True, cancel_reason=cancel_reason
        )
        _cancel_now(job, now)
        action = "reject" if to == Interrupt.Status.REJECTED else "dismiss"
        audit_record(
            actor=actor,
            action=f"interrupt.{action}",
            resource_type="interrupt",
            resource_id=interrupt.pk,
            details={"thread_id": job.thread_id, "reason": reason},
            at=now,
        )
    current.refresh_from_db()
    return current
