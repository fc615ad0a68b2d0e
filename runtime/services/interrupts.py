"""Interrupts: resume with a value, or reject (which cancels the job), under the
interrupt's approval policy: claims, quorum votes, deadlines (see approvals)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from runtime.errors import InterruptAlreadyResolved, InterruptClaimed, NotAssignee
from runtime.models import Attempt, Interrupt, InterruptVote, Job
from runtime.services import approvals
from runtime.services.audit import Actor, audit_record
from runtime.services.jobs import (
    _cancel_now,
    job_check_definition,
    job_enqueue_continuation,
)
from runtime.services.transitions import transition

logger = logging.getLogger(__name__)

EXPIRY_BATCH = 100  # interrupts expired per sweep; the next sweep takes the rest


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
    reason: str = "",
    at: datetime | None = None,
) -> Interrupt:
    """Answers an interrupt. Once every interrupt the run is waiting on is
    answered, a resume attempt continues from the checkpoint with the answers.

    Answering again with the same value is harmless (idempotent); with a different
    value it is a conflict. Under a policy, only its assignees (or the claimer)
    may answer (``NotAssignee``), a reason may be required (``ReasonRequired``),
    and with a quorum the answer is one vote until enough people agree.
    """
    now = at or timezone.now()
    digest = resume_hash(value)
    with transaction.atomic():
        current = _lock_pending(interrupt, resume_hash=digest)
        if current is None:
            return Interrupt.objects.get(pk=interrupt.pk)
        policy = approvals.policy_of(current)
        approvals.check_may_answer(current, actor)
        approvals.check_reason(policy, reason)
        job_check_definition(job=current.job, actor=actor, at=now)
        details: dict[str, Any] = {"reason": reason} if reason else {}
        if policy.quorum > 1:
            new, approved = approvals.vote_record(
                interrupt=current,
                actor=actor,
                decision=InterruptVote.Decision.APPROVE,
                value=value,
                value_hash=digest,
                reason=reason,
                at=now,
            )
            if not new:  # the same person, the same answer: counted already
                return current
            details |= {"approvals": approved, "quorum": policy.quorum}
            vote = {"vote": "approve", **details}
            _audit(actor, "interrupt.vote", current, vote, now)
            if approved < policy.quorum:
                return current
        transition(
            Interrupt,
            interrupt.pk,
            to=Interrupt.Status.RESUMED,
            resume_value=value,
            resume_hash=digest,
            reason=reason,
            resolved_by=str(actor),
            resolved_at=now,
        )
        waiting = Interrupt.objects.filter(
            attempt_id=current.attempt_id, status=Interrupt.Status.PENDING
        )
        if not waiting.exists():
            _resume_job(current, now)
        _audit(actor, "interrupt.resume", current, details, now)
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
    """Refuses an interrupt: the job is cancelled with the reason. Under a policy
    only its assignees may; with a quorum, one rejection ends it (and is a vote)."""
    now = at or timezone.now()
    with transaction.atomic():
        current = _lock_answerable(interrupt, actor, reason)
        if approvals.policy_of(current).quorum > 1:
            approvals.vote_record(
                interrupt=current,
                actor=actor,
                decision=InterruptVote.Decision.REJECT,
                value=None,
                value_hash="",
                reason=reason,
                at=now,
            )
            _audit(actor, "interrupt.vote", current, {"vote": "reject"}, now)
        _close_now(current, Interrupt.Status.REJECTED, actor, reason, now)
        _audit(actor, "interrupt.reject", current, {"reason": reason}, now)
    current.refresh_from_db()
    return current


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
    Under a policy only its assignees may (no vote: nothing is decided).

    Unlike a rejection, which refuses the request and says why, a dismissal
    says the request needs no decision (a duplicate, an obsolete run)."""
    now = at or timezone.now()
    with transaction.atomic():
        current = _lock_answerable(interrupt, actor, reason)
        _close_now(current, Interrupt.Status.DISMISSED, actor, reason, now)
        _audit(actor, "interrupt.dismiss", current, {"reason": reason}, now)
    current.refresh_from_db()
    return current


def _lock_answerable(interrupt: Interrupt, actor: Actor, reason: str) -> Interrupt:
    """The pending interrupt, locked, once its policy lets ``actor`` close it."""
    current = _lock_pending(interrupt)
    assert current is not None  # only a resume can be a harmless repeat
    approvals.check_may_answer(current, actor)
    approvals.check_reason(approvals.policy_of(current), reason)
    return current


def _close_now(
    current: Interrupt, to: Interrupt.Status, actor: Actor, reason: str, now: datetime
) -> None:
    """Closes a pending interrupt without an answer and cancels its job."""
    transition(
        Interrupt,
        current.pk,
        to=to,
        reason=reason,
        resolved_by=str(actor),
        resolved_at=now,
    )
    if to == Interrupt.Status.REJECTED:
        cancel_reason = reason or "interrupt rejected"
    else:
        cancel_reason = f"interrupt dismissed by {actor}" + (
            f": {reason}" if reason else ""
        )
    job = Job.objects.get(pk=current.job_id)
    Job.objects.filter(pk=job.pk).update(
        cancel_requested=True, cancel_reason=cancel_reason
    )
    _cancel_now(job, now)


def interrupt_claim(
    *, interrupt: Interrupt, actor: Actor, at: datetime | None = None
) -> Interrupt:
    """ "I'll take it": the actor becomes the one who answers the interrupt."""
    now = at or timezone.now()
    with transaction.atomic():
        current = _lock_pending(interrupt)
        assert current is not None
        if current.claimed_by == str(actor):
            return current  # a repeat: it is already yours
        if approvals.policy_of(current).quorum > 1:
            raise InterruptClaimed(
                "a quorum interrupt is decided by several people's votes; "
                "it cannot be claimed"
            )
        if current.claimed_by:
            raise InterruptClaimed(
                f"already claimed by {current.claimed_by}",
                details={"claimed_by": current.claimed_by},
            )
        approvals.check_may_answer(current, actor)
        Interrupt.objects.filter(pk=current.pk).update(
            claimed_by=str(actor), claimed_at=now
        )
        _audit(actor, "interrupt.claim", current, {}, now)
    current.refresh_from_db()
    return current


def interrupt_release(
    *, interrupt: Interrupt, actor: Actor, at: datetime | None = None
) -> Interrupt:
    """Gives a claimed interrupt back to its assignees; only its claimer may."""
    now = at or timezone.now()
    with transaction.atomic():
        current = _lock_pending(interrupt)
        assert current is not None
        if current.claimed_by != str(actor):
            raise NotAssignee(
                f"only {current.claimed_by or 'its claimer'} may release this "
                "interrupt",
                details={"claimed_by": current.claimed_by},
            )
        Interrupt.objects.filter(pk=current.pk).update(claimed_by="", claimed_at=None)
        _audit(actor, "interrupt.release", current, {}, now)
    current.refresh_from_db()
    return current


def interrupt_expire_due(*, at: datetime | None = None) -> int:
    """The deadline sweep (django-q2 schedule): each pending interrupt past its
    deadline is rejected, or escalated once to its policy's ``escalate_to``
    group with a fresh deadline. Returns how many it moved."""
    now = at or timezone.now()
    due = Interrupt.objects.filter(
        status=Interrupt.Status.PENDING, deadline_at__lte=now
    ).order_by("deadline_at")
    moved = 0
    for pk in due.values_list("pk", flat=True)[:EXPIRY_BATCH]:
        with transaction.atomic():
            current = Interrupt.objects.select_for_update().get(pk=pk)
            if current.status != Interrupt.Status.PENDING or not _is_due(current, now):
                continue  # answered or moved meanwhile
            _expire(current, now)
            moved += 1
    return moved


def _is_due(interrupt: Interrupt, now: datetime) -> bool:
    return interrupt.deadline_at is not None and interrupt.deadline_at <= now


def _expire(current: Interrupt, now: datetime) -> None:
    policy = approvals.policy_of(current)
    system = Actor.system()
    deadline = current.deadline_at
    assert deadline is not None  # _is_due checked it
    if policy.on_expiry == "escalate" and current.escalated_at is None:
        # InterruptPolicy refuses escalation without a group and a timeout.
        assert policy.escalate_to
        assert policy.timeout_seconds
        Interrupt.objects.filter(pk=current.pk).update(
            assignee="",
            assignee_group=policy.escalate_to,
            claimed_by="",
            claimed_at=None,
            escalated_at=now,
            deadline_at=now + timedelta(seconds=policy.timeout_seconds),
        )
        details = {"from": approvals.assigned_to(current), "to": policy.escalate_to}
        _audit(system, "interrupt.escalate", current, details, now)
        logger.info("interrupt %s escalated to %s", current.pk, policy.escalate_to)
        return
    reason = f"no answer by the deadline ({deadline.isoformat()}): rejected by policy"
    _close_now(current, Interrupt.Status.REJECTED, system, reason, now)
    details = {"reason": reason, "deadline_at": deadline.isoformat()}
    _audit(system, "interrupt.expire", current, details, now)
    logger.info("interrupt %s expired and was rejected", current.pk)


def _audit(
    actor: Actor,
    action: str,
    interrupt: Interrupt,
    details: dict[str, Any],
    at: datetime,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        resource_type="interrupt",
        resource_id=interrupt.pk,
        details={"thread_id": interrupt.job.thread_id, **details},
        at=at,
    )
