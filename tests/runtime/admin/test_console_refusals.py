"""A refused console action (no permission, a CSRF failure, a service conflict)
is audited like a refused /v1 call: by the same middleware, with the staff user
as the actor."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from runtime.models import AuditLog, Job
from runtime.services.interrupts import interrupt_resume
from tests.factories import ALICE, make_job
from tests.runtime.admin.conftest import client_for, drain, interrupted, make_user

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:runtime_job_changelist")


def job_page(job: Job) -> str:
    return reverse("admin:runtime_job_change", args=[job.pk])


def refusal() -> AuditLog:
    return AuditLog.objects.get(result="error")


def refused() -> tuple[str, str, str, int, str]:
    """The one refusal row: action, resource id, actor, status code, error code."""
    row = refusal()
    status, error = row.details["status_code"], row.details["error"]
    return row.action, row.resource_id, row.actor_id, status, error


def test_a_detail_action_without_permission_is_audited(viewer_client: Client) -> None:
    job = make_job("chain", thread_id="t-refused")
    response = viewer_client.post(job_page(job), {"action_name": "cancel"})
    assert response.status_code == 403
    assert refused() == ("job.cancel", "t-refused", "carol", 403, "forbidden")
    assert (refusal().resource_type, refusal().actor_type) == ("thread", "user")
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_a_bulk_action_without_permission_is_audited(viewer_client: Client) -> None:
    job = make_job("chain")
    response = viewer_client.post(
        RUNS, {"action": "cancel_selected", "_selected_action": [job.pk]}
    )
    assert response.status_code == 403
    assert refused() == ("job.cancel", "", "carol", 403, "forbidden")


def test_a_bulk_action_the_user_may_see_but_not_run_is_audited() -> None:
    """Django answers it with the list page (no action form), not a 403."""
    dave = make_user("dave")
    dave.user_permissions.add(Permission.objects.get(codename="view_job"))
    job = make_job("chain")
    response = client_for(dave).post(
        RUNS, {"action": "cancel_selected", "_selected_action": [job.pk]}
    )
    assert response.status_code == 200
    assert refused() == ("job.cancel", "", "dave", 403, "forbidden")
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_a_csrf_failure_is_audited_with_the_user(alice_admin) -> None:
    job = make_job("chain", thread_id="t-csrf")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice_admin)
    response = client.post(job_page(job), {"action_name": "cancel"})
    assert response.status_code == 403
    assert refused() == ("job.cancel", "t-csrf", "alice", 403, "forbidden")
    assert refusal().actor_role == "admin"
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_a_conflict_is_audited_with_the_user(admin_client: Client) -> None:
    job = make_job("chain", thread_id="t-done")
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    response = admin_client.post(job_page(job), {"action_name": "cancel"})
    assert response.status_code == 302
    assert refused()[:4] == ("job.cancel", "t-done", "alice", 409)


def test_an_interrupt_answered_first_elsewhere_is_a_refused_reject(
    admin_client: Client,
) -> None:
    pending = interrupted()
    interrupt_resume(interrupt=pending, value=True, actor=ALICE)
    page = reverse("admin:runtime_interrupt_change", args=[pending.pk])
    admin_client.post(page, {"decision": "reject", "reason": "too late"})
    assert refused()[:4] == ("interrupt.reject", pending.pk, "alice", 409)


def test_a_key_created_without_permission_is_audited(operator_client: Client) -> None:
    response = operator_client.post(
        reverse("admin:runtime_apikey_add"), {"role": "admin"}
    )
    assert response.status_code == 403
    assert refused() == ("api_key.create", "", "bob", 403, "forbidden")


def test_reads_and_unknown_console_posts_are_not_audited(
    viewer_client: Client, admin_client: Client
) -> None:
    assert viewer_client.get(RUNS).status_code == 403
    job = make_job("chain")
    admin_client.post(job_page(job), {"action_name": "nothing"})
    assert not AuditLog.objects.filter(result="error").exists()
