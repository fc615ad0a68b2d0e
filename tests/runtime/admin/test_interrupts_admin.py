from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from runtime.models import Attempt, AuditLog, Interrupt, Job
from runtime.services.audit import Actor
from runtime.services.interrupts import interrupt_resume
from tests.runtime.admin.conftest import drain, interrupted

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:runtime_interrupt_changelist")


def detail(interrupt: Interrupt) -> str:
    return reverse("admin:runtime_interrupt_change", args=[interrupt.pk])


def test_the_inbox_lists_pending_first_with_age_graph_and_thread(
    operator_client: Client,
) -> None:
    answered = interrupted()
    interrupt_resume(interrupt=answered, value=True, actor=Actor.system())
    pending = interrupted("tool_review")
    response = operator_client.get(INBOX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index(pending.pk[:16]) < body.index(answered.pk[:16])
    assert pending.job.thread_id in body
    assert "tool_review" in body
    assert "minute" in body  # the age column


def test_a_tool_approval_is_summarised_as_tools_and_arguments(
    operator_client: Client,
) -> None:
    pending = interrupted("tool_review")
    body = operator_client.get(INBOX).content.decode()
    assert '<table class="oris-tools">' in body
    assert "<code>write_file</code>" in body
    assert "notes.txt" in body

    page = operator_client.get(detail(pending)).content.decode()
    assert 'id="action-requests"' in page
    assert "send_email" in page
    assert "approve, reject" in page  # send_email may not be edited


def test_other_payloads_are_pretty_printed_json(operator_client: Client) -> None:
    pending = interrupted()
    page = operator_client.get(detail(pending)).content.decode()
    assert "&quot;question&quot;: &quot;Publish this draft?&quot;" in page
    assert 'id="action-requests"' not in page


def test_approve_resumes_with_true_and_the_run_completes(
    operator_client: Client,
) -> None:
    pending = interrupted()
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    assert "Approved: the run continues" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.RESUMED
    assert pending.resume_value is True
    assert pending.resolved_by == "user:bob"
    drain()
    pending.job.refresh_from_db()
    assert pending.job.status == Job.Status.COMPLETED
    assert pending.job.result["published"].startswith("Draft on oris")


def test_approve_with_a_json_value_prefilled_from_the_payload(
    operator_client: Client,
) -> None:
    pending = interrupted()
    page = operator_client.get(detail(pending)).content.decode()
    assert "Publish this draft?" in page  # the textarea holds the payload
    value = {"approved": False, "feedback": "too short"}
    operator_client.post(
        detail(pending), {"decision": "approve_value", "value": json.dumps(value)}
    )
    pending.refresh_from_db()
    assert pending.resume_value == value
    drain()
    pending.job.refresh_from_db()
    assert pending.job.result["feedback"] == "too short"
    assert pending.job.result["published"] == ""


def test_invalid_json_is_shown_as_a_form_error(operator_client: Client) -> None:
    pending = interrupted()
    response = operator_client.post(
        detail(pending), {"decision": "approve_value", "value": "{nope"}
    )
    assert response.status_code == 200
    assert "Not valid JSON" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_edit_changes_the_arguments_then_approves(operator_client: Client) -> None:
    pending = interrupted("tool_review")
    edited = {"path": "notes.txt", "content": "hello, edited"}
    operator_client.post(
        detail(pending),
        {
            "decision": "edit",
            "args_0": json.dumps(edited),
            "args_1": '{"to": "someone@else"}',  # not editable: ignored
        },
    )
    pending.refresh_from_db()
    assert pending.resume_value == {
        "decisions": [
            {"type": "edit", "edited_action": {"name": "write_file", "args": edited}},
            {"type": "approve"},
        ]
    }
    drain()
    pending.job.refresh_from_db()
    assert pending.job.status == Job.Status.COMPLETED
    assert pending.job.result["decisions"][0]["edited_action"]["args"] == edited


def test_edit_rejects_arguments_that_are_not_an_object(
    operator_client: Client,
) -> None:
    pending = interrupted("tool_review")
    response = operator_client.post(
        detail(pending), {"decision": "edit", "args_0": "[1, 2]"}
    )
    assert "must be a JSON object" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_reject_needs_a_reason(operator_client: Client) -> None:
    pending = interrupted()
    response = operator_client.post(detail(pending), {"decision": "reject"})
    assert "a reason is required" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_reject_cancels_the_run_with_the_reason(operator_client: Client) -> None:
    pending = interrupted()
    operator_client.post(
        detail(pending), {"decision": "reject", "reason": "wrong audience"}
    )
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.REJECTED
    assert pending.reason == "wrong audience"
    pending.job.refresh_from_db()
    assert pending.job.status == Job.Status.CANCELLED


def test_a_double_submit_is_harmless(operator_client: Client) -> None:
    pending = interrupted()
    operator_client.post(detail(pending), {"decision": "approve"})
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    assert "You already resumed this interrupt" in response.content.decode()
    assert pending.job.attempts.filter(kind=Attempt.Kind.RESUME).count() == 1

    rejected = interrupted()
    operator_client.post(detail(rejected), {"decision": "reject", "reason": "no"})
    response = operator_client.post(
        detail(rejected), {"decision": "reject", "reason": "no"}, follow=True
    )
    assert "You already rejected this interrupt" in response.content.decode()


def test_someone_else_resolving_first_is_said_plainly(
    operator_client: Client, admin_client: Client
) -> None:
    pending = interrupted()
    admin_client.post(detail(pending), {"decision": "reject", "reason": "stop"})
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    body = response.content.decode()
    assert "Someone else resolved this interrupt first" in body
    assert "rejected by user:alice" in body
    assert "Your answer was not applied" in body
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.REJECTED


def test_approve_selected_action_answers_several(operator_client: Client) -> None:
    first, second = interrupted(), interrupted()
    interrupt_resume(interrupt=second, value=True, actor=Actor.system())
    response = operator_client.post(
        INBOX,
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "Approved 1 interrupt(s)." in body
    assert "already resolved by someone else" in body
    first.refresh_from_db()
    assert first.status == Interrupt.Status.RESUMED


def test_every_answer_is_audited_with_the_staff_user_as_actor(
    operator_client: Client,
) -> None:
    pending = interrupted()
    operator_client.post(detail(pending), {"decision": "approve"})
    row = AuditLog.objects.get(action="interrupt.resume", resource_id=pending.pk)
    assert (row.actor_type, row.actor_id, row.actor_role) == ("user", "bob", "operator")


def test_an_admin_may_answer_too(admin_client: Client) -> None:
    pending = interrupted()
    admin_client.post(detail(pending), {"decision": "approve"})
    pending.refresh_from_db()
    assert pending.resolved_by == "user:alice"


def test_a_staff_user_outside_the_groups_sees_and_answers_nothing(
    viewer_client: Client,
) -> None:
    pending = interrupted()
    assert viewer_client.get(INBOX).status_code == 403
    assert viewer_client.get(detail(pending)).status_code == 403
    response = viewer_client.post(detail(pending), {"decision": "approve"})
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_nobody_adds_or_deletes_interrupts(admin_client: Client) -> None:
    pending = interrupted()
    assert admin_client.get(reverse("admin:runtime_interrupt_add")).status_code == 403
    delete = reverse("admin:runtime_interrupt_delete", args=[pending.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Interrupt.objects.filter(pk=pending.pk).exists()
