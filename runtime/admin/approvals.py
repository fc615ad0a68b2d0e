"""The approval-policy parts of the interrupt inbox: who it is assigned to, the
deadline and quorum columns, the mine / my group / unassigned / overdue views,
the policy panel with its votes, and claiming ("I'll take it")."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from runtime import selectors
from runtime.admin.base import actor_for
from runtime.errors import (
    InterruptAlreadyResolved,
    InterruptClaimed,
    NotAssignee,
    ReasonRequired,
    VoteConflict,
)
from runtime.models import Interrupt
from runtime.services import approvals

# What a policy can refuse an answer with; the console reports and audits these.
POLICY_REFUSALS = (NotAssignee, ReasonRequired, VoteConflict, InterruptClaimed)
CLAIM_REFUSALS = (*POLICY_REFUSALS, InterruptAlreadyResolved)


class AssignmentFilter(admin.SimpleListFilter):
    title = "assignment"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(selectors.INBOX_VIEWS.items())

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Interrupt]
    ) -> QuerySet[Interrupt]:
        if self.value() not in selectors.INBOX_VIEWS:
            return queryset
        return selectors.interrupts_in_view(
            queryset, view=str(self.value()), actor=actor_for(request)
        )


class PolicyColumns:
    """The inbox columns an approval policy fills."""

    @admin.display(description="assignee", ordering="assignee_group")
    def assigned(self, obj: Interrupt) -> str:
        if obj.claimed_by:
            return f"{obj.claimed_by} (claimed)"
        names = [obj.assignee, obj.assignee_group and f"group {obj.assignee_group}"]
        return " or ".join(n for n in names if n) or "—"

    @admin.display(description="deadline", ordering="deadline_at")
    def deadline(self, obj: Interrupt) -> str:
        if obj.deadline_at is None:
            return "—"
        when = timezone.localtime(obj.deadline_at).strftime("%Y-%m-%d %H:%M %Z")
        overdue = obj.status == Interrupt.Status.PENDING and (
            obj.deadline_at <= timezone.now()
        )
        if overdue:
            return format_html('<span class="oris-overdue">{} (overdue)</span>', when)
        return when

    @admin.display(description="quorum")
    def quorum(self, obj: Interrupt) -> str:
        needed = approvals.policy_of(obj).quorum
        if needed == 1:
            return "—"
        return f"{obj.approvals} of {needed}"  # type: ignore[attr-defined]


def policy_context(
    request: HttpRequest, obj: Interrupt, *, may_resolve: bool
) -> dict[str, Any]:
    """What the interrupt page shows of its policy, and what the user may do
    (``may_resolve``: the user holds the console's resolve permission)."""
    actor = actor_for(request)
    policy = approvals.policy_of(obj)
    pending = obj.status == Interrupt.Status.PENDING and may_resolve
    me = str(actor)
    votes = list(selectors.interrupt_votes(interrupt=obj))
    approved = sum(1 for v in votes if v.decision == "approve")
    return {
        "policy": policy if obj.policy else None,
        "policy_assigned_to": approvals.assigned_to(obj),
        "policy_votes": votes,
        "policy_approvals": approved,
        "policy_my_vote": next((v for v in votes if v.voter == me), None),
        "policy_may_answer": approvals.may_answer(obj, actor),
        "policy_overdue": obj.status == Interrupt.Status.PENDING
        and obj.deadline_at is not None
        and obj.deadline_at <= timezone.now(),
        "can_claim": pending
        and policy.quorum == 1
        and not obj.claimed_by
        and approvals.is_eligible(obj, actor),
        "can_release": pending and obj.claimed_by == me,
    }


def vote_recorded(interrupt: Interrupt) -> str:
    """The confirmation of an approval that is one vote of a quorum."""
    approved = selectors.interrupt_votes(interrupt=interrupt).filter(decision="approve")
    needed = approvals.policy_of(interrupt).quorum
    return (
        f"Your approval is recorded ({approved.count()} of {needed}): the run "
        "continues once enough other people approve the same answer."
    )
