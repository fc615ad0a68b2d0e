"""Approval policies on interrupts, at the service level: who may answer, claims,
required reasons, quorum votes, deadlines (with an injected clock), the audit
trail and the run's timeline."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from graphs import InterruptPolicy
from runtime import selectors, tasks
from runtime.errors import (
    InterruptAlreadyResolved,
    InterruptClaimed,
    NotAssignee,
    ReasonRequired,
    VoteConflict,
)
from runtime.models import Attempt, AuditLog, Interrupt, InterruptVote, Job
from runtime.services import interrupts
from runtime.services.audit import Actor
from tests.runtime.policy_graphs import paused, register

pytestmark = pytest.mark.django_db

BOT = Actor(type="api_key", id="bot", role="operator")


@pytest.fixture(autouse=True)
def _policy_graphs(_test_graphs: None, settings) -> None:
    register(settings)


def person(name: str, *groups: str) -> Actor:
    user = User.objects.create_user(name, is_staff=True)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return Actor.for_user(user)


def actions(interrupt: Interrupt) -> list[tuple[str, str]]:
    rows = AuditLog.objects.filter(resource_id=interrupt.pk).order_by("pk")
    return [(row.action, f"{row.actor_type}:{row.actor_id}") for row in rows]


def test_a_policy_is_stored_with_its_assignment_and_deadline() -> None:
    before = timezone.now()
    found = paused(InterruptPolicy(assignee="dana", group="finance", timeout=600))
    assert found.policy["group"] == "finance"
    assert (found.assignee, found.assignee_group) == ("user:dana", "finance")
    assert found.deadline_at is not None
    assert found.deadline_at - before >= timedelta(seconds=600)


def test_only_the_assignee_or_the_group_may_answer() -> None:
    dana, erin, frank = person("dana"), person("erin", "finance"), person("frank")
    found = paused(InterruptPolicy(assignee="dana", group="finance"))
    with pytest.raises(NotAssignee):
        interrupts.interrupt_resume(interrupt=found, value=True, actor=frank)
    with pytest.raises(NotAssignee):
        interrupts.interrupt_reject(interrupt=found, actor=BOT, reason="no")
    assert interrupts.interrupt_resume(interrupt=found, value=True, actor=erin).status
    assert Interrupt.objects.get(pk=found.pk).resolved_by == "user:erin"
    other = paused(InterruptPolicy(assignee="dana", group="finance"))
    interrupts.interrupt_resume(interrupt=other, value=True, actor=dana)
    assert Interrupt.objects.get(pk=other.pk).status == Interrupt.Status.RESUMED


def test_api_keys_are_members_of_their_roles_group_and_assignable_by_id() -> None:
    by_role = paused(InterruptPolicy(group="oris-operator"))
    interrupts.interrupt_resume(interrupt=by_role, value=True, actor=BOT)
    admin_key = Actor(type="api_key", id="root", role="admin")
    by_id = paused(InterruptPolicy(assignee="api_key:bot"))
    with pytest.raises(NotAssignee):
        interrupts.interrupt_resume(interrupt=by_id, value=True, actor=admin_key)
    interrupts.interrupt_resume(interrupt=by_id, value=True, actor=BOT)
    statuses = Interrupt.objects.filter(pk__in=[by_role.pk, by_id.pk])
    assert set(statuses.values_list("status", flat=True)) == {"resumed"}


def test_a_claim_makes_the_claimer_the_only_one_who_may_answer() -> None:
    erin, gina = person("erin", "finance"), person("gina", "finance")
    found = paused(InterruptPolicy(group="finance"))
    with pytest.raises(NotAssignee):
        interrupts.interrupt_claim(interrupt=found, actor=person("frank"))
    claimed = interrupts.interrupt_claim(interrupt=found, actor=erin)
    assert claimed.claimed_by == "user:erin"
    assert interrupts.interrupt_claim(interrupt=found, actor=erin).claimed_by  # again
    with pytest.raises(InterruptClaimed):
        interrupts.interrupt_claim(interrupt=found, actor=gina)
    with pytest.raises(NotAssignee):
        interrupts.interrupt_resume(interrupt=found, value=True, actor=gina)
    with pytest.raises(NotAssignee):
        interrupts.interrupt_release(interrupt=found, actor=gina)
    interrupts.interrupt_release(interrupt=found, actor=erin)
    interrupts.interrupt_resume(interrupt=found, value=True, actor=gina)
    assert actions(found) == [
        ("interrupt.claim", "user:erin"),
        ("interrupt.release", "user:erin"),
        ("interrupt.resume", "user:gina"),
    ]
    with pytest.raises(InterruptAlreadyResolved):
        interrupts.interrupt_claim(interrupt=found, actor=erin)


def test_a_required_reason_is_required_to_approve_and_to_reject() -> None:
    found = paused(InterruptPolicy(reason_required=True))
    with pytest.raises(ReasonRequired):
        interrupts.interrupt_resume(interrupt=found, value=True, actor=BOT)
    with pytest.raises(ReasonRequired):
        interrupts.interrupt_reject(interrupt=found, actor=BOT, reason="  ")
    interrupts.interrupt_resume(
        interrupt=found, value=True, actor=BOT, reason="tests are green"
    )
    found.refresh_from_db()
    assert (found.status, found.reason) == ("resumed", "tests are green")
    row = AuditLog.objects.get(action="interrupt.resume", resource_id=found.pk)
    assert row.details["reason"] == "tests are green"


def test_a_quorum_of_two_needs_two_different_people() -> None:
    dana, erin = person("dana", "finance"), person("erin", "finance")
    found = paused(InterruptPolicy(group="finance", quorum=2))
    first = interrupts.interrupt_resume(interrupt=found, value=True, actor=dana)
    assert first.status == Interrupt.Status.PENDING
    again = interrupts.interrupt_resume(interrupt=found, value=True, actor=dana)
    assert again.status == Interrupt.Status.PENDING  # the same person counts once
    assert Job.objects.get(pk=found.job_id).status == Job.Status.INTERRUPTED
    with pytest.raises(VoteConflict):
        interrupts.interrupt_resume(interrupt=found, value=False, actor=erin)
    with pytest.raises(InterruptClaimed):
        interrupts.interrupt_claim(interrupt=found, actor=erin)
    done = interrupts.interrupt_resume(interrupt=found, value=True, actor=erin)
    assert done.status == Interrupt.Status.RESUMED
    votes = InterruptVote.objects.filter(interrupt=found).order_by("pk")
    assert [(v.voter, v.decision) for v in votes] == [
        ("user:dana", "approve"),
        ("user:erin", "approve"),
    ]
    job = Job.objects.get(pk=found.job_id)
    assert job.status == Job.Status.QUEUED
    assert job.attempts.filter(kind=Attempt.Kind.RESUME).count() == 1
    assert actions(found) == [
        ("interrupt.vote", "user:dana"),
        ("interrupt.vote", "user:erin"),
        ("interrupt.resume", "user:erin"),
    ]


def test_one_rejection_ends_a_quorum_and_is_recorded_as_a_vote() -> None:
    dana, erin = person("dana", "finance"), person("erin", "finance")
    found = paused(InterruptPolicy(group="finance", quorum=2))
    interrupts.interrupt_resume(interrupt=found, value=True, actor=dana)
    with pytest.raises(VoteConflict):  # dana approved; she cannot also reject
        interrupts.interrupt_reject(interrupt=found, actor=dana, reason="hmm")
    interrupts.interrupt_reject(interrupt=found, actor=erin, reason="not today")
    found.refresh_from_db()
    assert (found.status, found.reason) == ("rejected", "not today")
    assert Job.objects.get(pk=found.job_id).status == Job.Status.CANCELLED
    assert list(found.votes.values_list("voter", "decision")) == [
        ("user:dana", "approve"),
        ("user:erin", "reject"),
    ]


def test_a_passed_deadline_rejects_with_a_reason() -> None:
    found = paused(InterruptPolicy(timeout=60))
    deadline = found.deadline_at
    assert interrupts.interrupt_expire_due(at=deadline - timedelta(seconds=1)) == 0
    assert interrupts.interrupt_expire_due(at=deadline) == 1
    found.refresh_from_db()
    assert found.status == Interrupt.Status.REJECTED
    assert found.resolved_by == "system:oris"
    assert "no answer by the deadline" in found.reason
    assert Job.objects.get(pk=found.job_id).status == Job.Status.CANCELLED
    assert actions(found) == [("interrupt.expire", "system:oris")]
    assert interrupts.interrupt_expire_due(at=deadline + timedelta(hours=1)) == 0


def test_a_passed_deadline_escalates_once_then_rejects() -> None:
    erin = person("erin", "finance")
    boss = person("boss", "oris-admin")
    policy = InterruptPolicy(
        group="finance", timeout=60, on_expiry="escalate", escalate_to="oris-admin"
    )
    found = paused(policy)
    interrupts.interrupt_claim(interrupt=found, actor=erin)
    first_deadline = found.deadline_at
    assert interrupts.interrupt_expire_due(at=first_deadline) == 1
    found.refresh_from_db()
    assert found.status == Interrupt.Status.PENDING
    assert (found.assignee_group, found.claimed_by) == ("oris-admin", "")
    assert found.deadline_at == first_deadline + timedelta(seconds=60)
    with pytest.raises(NotAssignee):  # the finance group had its chance
        interrupts.interrupt_resume(interrupt=found, value=True, actor=erin)
    escalated = AuditLog.objects.get(action="interrupt.escalate")
    assert escalated.details["to"] == "oris-admin"
    assert escalated.details["from"] == "claimed by user:erin"
    assert interrupts.interrupt_expire_due(at=found.deadline_at) == 1
    found.refresh_from_db()
    assert found.status == Interrupt.Status.REJECTED
    with pytest.raises(InterruptAlreadyResolved):
        interrupts.interrupt_resume(interrupt=found, value=True, actor=boss)


def test_an_escalated_interrupt_is_answered_by_the_new_group() -> None:
    boss = person("boss", "oris-admin")
    policy = InterruptPolicy(
        group="finance", timeout=60, on_expiry="escalate", escalate_to="oris-admin"
    )
    found = paused(policy)
    interrupts.interrupt_expire_due(at=found.deadline_at)
    interrupts.interrupt_resume(interrupt=found, value=True, actor=boss)
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.RESUMED


def test_the_scheduled_sweep_expires_what_is_due() -> None:
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="oris-interrupt-deadlines")
    assert (schedule.func, schedule.minutes) == ("runtime.tasks.expire_interrupts", 1)
    due = paused(InterruptPolicy(timeout=60))
    later = paused(InterruptPolicy(timeout=3600))
    # The clock moves: the first deadline has passed, the second has not.
    Interrupt.objects.filter(pk=due.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )
    assert tasks.expire_interrupts() == 1
    statuses = dict(Interrupt.objects.values_list("pk", "status"))
    assert (statuses[due.pk], statuses[later.pk]) == ("rejected", "pending")


def test_claims_votes_escalation_and_expiry_are_in_the_runs_timeline() -> None:
    dana, erin = person("dana", "finance"), person("erin", "finance")
    policy = InterruptPolicy(
        group="finance",
        quorum=2,
        timeout=60,
        on_expiry="escalate",
        escalate_to="oris-admin",
    )
    found = paused(policy)
    interrupts.interrupt_resume(interrupt=found, value=True, actor=dana, reason="ok")
    interrupts.interrupt_expire_due(at=found.deadline_at)
    found.refresh_from_db()
    interrupts.interrupt_expire_due(at=found.deadline_at)
    texts = [e.text for e in selectors.job_timeline(job=found.job)]
    assert "interrupt.vote by user:dana (approve, 1 of 2): ok" in texts
    assert (
        "interrupt.escalate by system:oris (from assigned to group finance "
        "to group oris-admin)"
    ) in texts
    assert any(
        t.startswith("interrupt.expire by system:oris (no answer by") for t in texts
    )
    assert erin  # in the group, never voted: the quorum was not reached


def test_an_interrupt_without_a_policy_is_answered_as_before() -> None:
    found = paused(InterruptPolicy())
    anyone = person("zed")
    interrupts.interrupt_resume(interrupt=found, value=True, actor=anyone)
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.RESUMED
    assert not InterruptVote.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_last_votes_continue_the_run_once() -> None:
    found = paused(InterruptPolicy(quorum=3))
    interrupts.interrupt_resume(interrupt=found, value=True, actor=BOT)
    voters = [Actor(type="api_key", id=f"k{n}", role="operator") for n in range(4)]
    start = threading.Barrier(len(voters))
    statuses: list[str] = []

    def vote(actor: Actor) -> None:
        try:
            start.wait()
            answered = interrupts.interrupt_resume(
                interrupt=found, value=True, actor=actor
            )
            statuses.append(answered.status)
        finally:
            connection.close()

    threads = [threading.Thread(target=vote, args=(v,)) for v in voters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The first vote in makes two of three, the second completes the quorum; the
    # later two find it decided with the same answer (a harmless repeat, as for
    # any resume) and are not counted.
    assert sorted(statuses) == ["pending", "resumed", "resumed", "resumed"]
    assert found.votes.count() == 3
    job = Job.objects.get(pk=found.job_id)
    assert job.attempts.filter(kind=Attempt.Kind.RESUME).count() == 1
    assert AuditLog.objects.filter(action="interrupt.resume").count() == 1
