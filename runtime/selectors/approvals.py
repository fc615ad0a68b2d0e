"""Reads for approval policies: whose groups, whose inbox, which votes."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from runtime.models import Interrupt, InterruptVote
from runtime.services.audit import Actor

ADMIN_GROUP = "oris-admin"

# The console inbox's views of pending work (its "assignment" filter).
INBOX_VIEWS = {
    "mine": "Mine",
    "my_group": "My group",
    "unassigned": "Unassigned",
    "overdue": "Overdue",
}


def actor_groups(actor: Actor) -> frozenset[str]:
    """The groups an actor belongs to: a user's Django groups (a superuser is in
    ``oris-admin``); an API key or bearer token is in ``oris-<role>``."""
    if actor.type == "user":
        users = get_user_model().objects.filter(username=actor.id, is_active=True)
        user = users.first()
        if user is None:
            return frozenset()
        names = set(user.groups.values_list("name", flat=True))
        return frozenset(names | ({ADMIN_GROUP} if user.is_superuser else set()))
    if actor.type in ("api_key", "bearer") and actor.role:
        return frozenset({f"oris-{actor.role}"})
    return frozenset()


def interrupts_in_view(
    interrupts: QuerySet[Interrupt],
    *,
    view: str,
    actor: Actor,
    at: datetime | None = None,
) -> QuerySet[Interrupt]:
    """The pending interrupts of one inbox view: ``mine`` (claimed by or assigned
    to the actor), ``my_group`` (assigned to one of its groups, not claimed by
    someone else), ``unassigned`` (no one named), ``overdue`` (past deadline)."""
    me = str(actor)
    pending = interrupts.filter(status=Interrupt.Status.PENDING)
    if view == "mine":
        return pending.filter(Q(claimed_by=me) | Q(assignee=me, claimed_by=""))
    if view == "my_group":
        groups = actor_groups(actor)
        return pending.filter(assignee_group__in=groups).filter(
            Q(claimed_by="") | Q(claimed_by=me)
        )
    if view == "unassigned":
        return pending.filter(assignee="", assignee_group="", claimed_by="")
    if view == "overdue":
        return pending.filter(deadline_at__lte=at or timezone.now())
    return interrupts


def interrupt_votes(*, interrupt: Interrupt) -> QuerySet[InterruptVote]:
    """The votes cast on an interrupt, oldest first."""
    return interrupt.votes.order_by("created_at", "pk")


def interrupts_with_approvals(interrupts: QuerySet[Interrupt]) -> QuerySet[Interrupt]:
    """The interrupts, each with its count of approving votes (``approvals``)."""
    approving = Q(votes__decision=InterruptVote.Decision.APPROVE)
    return interrupts.annotate(approvals=Count("votes", filter=approving))
