"""The rules of approval policies on interrupts: who may answer, required
reasons, quorum votes. Claiming, resolving and expiring are in
``runtime.services.interrupts``, which applies these rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from graphs.policy import InterruptPolicy
from runtime.errors import NotAssignee, ReasonRequired, VoteConflict
from runtime.models import Interrupt, InterruptVote
from runtime.selectors.approvals import actor_groups
from runtime.services.audit import Actor

NO_POLICY = InterruptPolicy()


def policy_of(interrupt: Interrupt) -> InterruptPolicy:
    """The interrupt's declared policy (the empty policy when it has none)."""
    data = interrupt.policy
    return InterruptPolicy.from_json(data) if data else NO_POLICY


def policy_columns(policy: InterruptPolicy | None, *, at: datetime) -> dict[str, Any]:
    """The Interrupt fields a new interrupt's policy sets."""
    if policy is None:
        return {}
    timeout = policy.timeout_seconds
    return {
        "policy": policy.to_json(),
        "assignee": principal_name(policy.assignee),
        "assignee_group": policy.group or "",
        "deadline_at": at + timedelta(seconds=timeout) if timeout else None,
    }


def principal_name(name: str | None) -> str:
    """An assignee as actors print: ``"alice"`` is the user ``"user:alice"``."""
    if not name:
        return ""
    return name if ":" in name else f"user:{name}"


def is_eligible(interrupt: Interrupt, actor: Actor) -> bool:
    """Whether the policy's assignee or group includes ``actor`` (claims aside)."""
    if not (interrupt.assignee or interrupt.assignee_group):
        return True
    if interrupt.assignee and interrupt.assignee == str(actor):
        return True
    return bool(interrupt.assignee_group) and (
        interrupt.assignee_group in actor_groups(actor)
    )


def may_answer(interrupt: Interrupt, actor: Actor) -> bool:
    """Whether ``actor`` may answer now: the claimer of a claimed interrupt, else
    anyone the policy assigns it to."""
    if interrupt.claimed_by:
        return interrupt.claimed_by == str(actor)
    return is_eligible(interrupt, actor)


def check_may_answer(interrupt: Interrupt, actor: Actor) -> None:
    if may_answer(interrupt, actor):
        return
    raise NotAssignee(
        f"{actor} may not answer this interrupt: {assigned_to(interrupt)}",
        details={
            "assignee": interrupt.assignee,
            "group": interrupt.assignee_group,
            "claimed_by": interrupt.claimed_by,
        },
    )


def assigned_to(interrupt: Interrupt) -> str:
    """Who may answer, in words."""
    if interrupt.claimed_by:
        return f"claimed by {interrupt.claimed_by}"
    named = [interrupt.assignee] if interrupt.assignee else []
    if interrupt.assignee_group:
        named.append(f"group {interrupt.assignee_group}")
    return "assigned to " + " or ".join(named) if named else "anyone"


def check_reason(policy: InterruptPolicy, reason: str) -> None:
    if policy.reason_required and not reason.strip():
        raise ReasonRequired(
            "this interrupt's policy requires a reason with every answer",
            details={"fields": {"reason": ["required by the interrupt's policy"]}},
        )


def vote_record(
    *,
    interrupt: Interrupt,
    actor: Actor,
    decision: str,
    value: Any,
    value_hash: str,
    reason: str,
    at: datetime,
) -> tuple[bool, int]:
    """Records ``actor``'s vote on a locked, pending interrupt; returns whether
    it is a new vote and how many distinct people have approved. Voting again
    for the same answer is a harmless repeat; approvals must agree with the
    answer the first approver gave."""
    votes = interrupt.votes.all()
    mine = votes.filter(voter=str(actor)).first()
    approved = votes.filter(decision=InterruptVote.Decision.APPROVE)
    if mine is not None and (mine.decision, mine.value_hash) != (decision, value_hash):
        raise VoteConflict(
            f"{actor} already voted to {mine.decision} with another answer",
            details={"voted": mine.decision},
        )
    first = approved.order_by("created_at", "pk").first()
    approving = decision == InterruptVote.Decision.APPROVE
    if approving and first is not None and first.value_hash != value_hash:
        raise VoteConflict(
            f"approvals must agree: {first.voter} approved another answer",
            details={"value": first.value},
        )
    if mine is not None:
        return False, approved.count()
    InterruptVote.objects.create(
        interrupt=interrupt,
        voter=str(actor),
        decision=decision,
        value=value,
        value_hash=value_hash,
        reason=reason,
        created_at=at,
    )
    return True, approved.count()
