"""The approval policy in the console, per group: the inbox's assignee, deadline
and quorum columns and its mine / my group / unassigned / overdue views; claiming
("I'll take it") and releasing; reasons; quorum votes from two users; expiry and
escalation (an injected clock) shown on the page and in the run's timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from graphs import InterruptPolicy
from runtime.models import AuditLog, Interrupt, Job
from runtime.services import interrupts
from tests.runtime.admin.conftest import client_for, drain, make_user
from tests.runtime.policy_graphs import paused, register

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:runtime_interrupt_changelist")
ESCALATING = InterruptPolicy(
    group="oris-operator", timeout=600, on_expiry="escalate", escalate_to="oris-admin"
)


@pytest.fixture(autouse=True)
def _policy_graphs(_console_graphs: None, settings) -> None:
    register(settings)


def detail(interrupt: Interrupt) -> str:
    return reverse("admin:runtime_interrupt_change", args=[interrupt.pk])


def page(client: Client, interrupt: Interrupt) -> str:
    response = client.get(detail(interrupt))
    assert response.status_code == 200
    return response.content.decode()


def post(client: Client, interrupt: Interrupt, decision: str, **data: str) -> str:
    response = client.post(
        detail(interrupt), {"decision": decision, **data}, follow=True
    )
    assert response.status_code == 200
    return response.content.decode()


def operator(name: str) -> User:
    return make_user(name, "oris-operator")


def in_view(client: Client, view: str) -> str:
    response = client.get(INBOX, {"assigned": view})
    assert response.status_code == 200
    return response.content.decode()


def test_the_inbox_shows_assignee_deadline_and_quorum(operator_client: Client) -> None:
    paused(InterruptPolicy(group="finance", timeout=600, quorum=2))
    body = operator_client.get(INBOX).content.decode()
    assert "group finance" in body
    assert "0 of 2" in body
    assert "UTC" in body  # the deadline column
    assert "assignment" in body  # the filter


def test_the_inbox_views_mine_my_group_unassigned_overdue(
    operator_client: Client, bob_operator: User
) -> None:
    mine = paused(InterruptPolicy(assignee="bob"))
    group = paused(InterruptPolicy(group="oris-operator"))
    theirs = paused(InterruptPolicy(group="finance"))
    nobody = paused(InterruptPolicy())
    overdue = paused(InterruptPolicy(timeout=60))
    Interrupt.objects.filter(pk=overdue.pk).update(
        deadline_at=overdue.created_at - timedelta(seconds=1)
    )
    shown = {
        view: _ids(operator_client, view)
        for view in ("mine", "my_group", "unassigned", "overdue")
    }
    assert shown == {
        "mine": {mine.pk[:16]},
        "my_group": {group.pk[:16]},
        "unassigned": {nobody.pk[:16], overdue.pk[:16]},
        "overdue": {overdue.pk[:16]},
    }
    assert theirs.pk[:16] in operator_client.get(INBOX).content.decode()


def _ids(client: Client, view: str) -> set[str]:
    """The interrupts the inbox lists in ``view`` (by their short id)."""
    body = in_view(client, view)
    shorts = [pk[:16] for pk in Interrupt.objects.values_list("pk", flat=True)]
    return {short for short in shorts if short in body}


def test_an_operator_claims_and_releases(
    operator_client: Client, bob_operator: User
) -> None:
    found = paused(InterruptPolicy(group="oris-operator"))
    assert "I'll take it" in page(operator_client, found)
    body = post(operator_client, found, "claim")
    assert "You took this interrupt" in body
    assert "claimed by user:bob" in body
    assert Interrupt.objects.get(pk=found.pk).claimed_by == "user:bob"
    assert _ids(operator_client, "mine") == {found.pk[:16]}
    body = post(operator_client, found, "release")
    assert "Released" in body
    assert Interrupt.objects.get(pk=found.pk).claimed_by == ""
    audited = AuditLog.objects.filter(resource_id=found.pk).order_by("pk")
    assert [(r.action, r.actor_id) for r in audited] == [
        ("interrupt.claim", "bob"),
        ("interrupt.release", "bob"),
    ]


def test_a_claim_by_one_operator_shuts_out_another(bob_operator: User) -> None:
    found = paused(InterruptPolicy(group="oris-operator"))
    bob, dave = client_for(bob_operator), client_for(operator("dave"))
    post(bob, found, "claim")
    text = page(dave, found)
    assert "claimed by user:bob" in text
    assert 'id="approve-form"' not in text  # not dave's to answer
    assert "I'll take it" not in text
    body = post(dave, found, "claim")
    assert "already claimed by user:bob" in body
    body = post(dave, found, "approve")
    assert "Not applied" in body
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.PENDING
    refused = AuditLog.objects.filter(result="error", resource_id=found.pk)
    assert sorted(r.action for r in refused) == ["interrupt.claim", "interrupt.resume"]
    post(bob, found, "approve")
    assert Interrupt.objects.get(pk=found.pk).resolved_by == "user:bob"


def test_an_admin_outside_the_assigned_group_may_read_not_answer(
    admin_client: Client,
) -> None:
    found = paused(InterruptPolicy(group="oris-operator"))
    text = page(admin_client, found)
    assert "assigned to group oris-operator" in text
    assert 'id="approve-form"' not in text
    assert "you may read it but not answer it" in text
    assert "Not applied" in post(admin_client, found, "claim")
    assert "Not applied" in post(admin_client, found, "reject", reason="no")
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.PENDING


def test_an_admin_answers_what_is_assigned_to_oris_admin(admin_client: Client) -> None:
    found = paused(InterruptPolicy(group="oris-admin"))
    post(admin_client, found, "claim")
    post(admin_client, found, "approve")
    assert Interrupt.objects.get(pk=found.pk).resolved_by == "user:alice"


def test_a_reader_cannot_claim(bob_operator: User) -> None:
    reader = make_user("rita")
    reader.user_permissions.add(Permission.objects.get(codename="view_interrupt"))
    found = paused(InterruptPolicy())
    client = client_for(reader)
    assert "I'll take it" not in page(client, found)
    assert client.post(detail(found), {"decision": "claim"}).status_code == 403
    assert Interrupt.objects.get(pk=found.pk).claimed_by == ""


def test_the_group_outside_the_console_sees_nothing(viewer_client: Client) -> None:
    found = paused(InterruptPolicy())
    assert viewer_client.post(detail(found), {"decision": "claim"}).status_code == 403


def test_a_required_reason_is_asked_for_and_enforced(operator_client: Client) -> None:
    found = paused(InterruptPolicy(reason_required=True))
    text = page(operator_client, found)
    assert "Reason (required by the policy)" in text
    body = post(operator_client, found, "approve")
    assert "requires a reason" in body
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.PENDING
    post(operator_client, found, "approve", reason="reviewed the release notes")
    found.refresh_from_db()
    assert (found.status, found.reason) == ("resumed", "reviewed the release notes")


def test_a_quorum_of_two_needs_two_different_users(bob_operator: User) -> None:
    found = paused(InterruptPolicy(group="oris-operator", quorum=2))
    bob, dave = client_for(bob_operator), client_for(operator("dave"))
    assert "0 of 2 approvals" in page(bob, found)
    assert "I'll take it" not in page(bob, found)  # a quorum is not claimed
    body = post(bob, found, "approve")
    assert "Your approval is recorded (1 of 2)" in body
    assert "You voted to approve" in body
    body = post(bob, found, "approve")  # bob again: still one approval
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.PENDING
    assert "1 of 2 approvals" in page(dave, found)
    body = post(dave, found, "approve")
    assert "sent true; the run continues from its checkpoint" in body
    found.refresh_from_db()
    assert found.status == Interrupt.Status.RESUMED
    votes = page(dave, found)
    assert "user:bob" in votes
    assert "user:dave" in votes
    drain()
    assert Job.objects.get(pk=found.job_id).status == Job.Status.COMPLETED


def test_expiry_and_escalation_show_on_the_page_and_in_the_timeline(
    operator_client: Client, admin_client: Client
) -> None:
    found = paused(ESCALATING)
    assert "then escalated to group oris-admin" in page(operator_client, found)
    interrupts.interrupt_expire_due(at=found.deadline_at)
    text = page(operator_client, found)
    assert "assigned to group oris-admin" in text
    assert "escalated at" in text
    assert 'id="approve-form"' not in text
    assert 'id="approve-form"' in page(admin_client, found)
    found.refresh_from_db()
    interrupts.interrupt_expire_due(at=found.deadline_at + timedelta(seconds=1))
    text = page(admin_client, found)
    assert "no answer by the deadline" in text
    job = admin_client.get(reverse("admin:runtime_job_change", args=[found.job_id]))
    timeline = job.content.decode()
    assert "interrupt.escalate by system:oris" in timeline
    assert "interrupt.expire by system:oris" in timeline


def test_an_overdue_deadline_is_marked(operator_client: Client) -> None:
    found = paused(InterruptPolicy(timeout=60))
    Interrupt.objects.filter(pk=found.pk).update(
        deadline_at=found.created_at - timedelta(seconds=1)
    )
    assert "(overdue)" in page(operator_client, found)
    assert "(overdue)" in operator_client.get(INBOX).content.decode()


def test_bulk_approval_votes_and_skips_what_the_policy_refuses(
    operator_client: Client,
) -> None:
    theirs = paused(InterruptPolicy(group="finance"))
    open_ = paused(InterruptPolicy())
    quorum = paused(InterruptPolicy(quorum=2))
    selected = [theirs.pk, open_.pk, quorum.pk]
    response = operator_client.post(
        INBOX, {"action": "approve_selected", "_selected_action": selected}, follow=True
    )
    body = response.content.decode()
    assert "Approved 1 interrupt(s)" in body
    assert "Recorded your approval on 1 interrupt(s)" in body
    assert "may not answer" in body
    assert "already resolved" not in body
    statuses = dict(Interrupt.objects.values_list("pk", "status"))
    assert [statuses[pk] for pk in selected] == ["pending", "resumed", "pending"]
    assert quorum.votes.count() == 1
