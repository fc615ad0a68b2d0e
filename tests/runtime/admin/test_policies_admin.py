"""The console's retention and budget policies, and what a run's page shows of
its storage and usage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from runtime.models import AuditLog, BudgetPolicy, RetentionPolicy, RunUsage
from runtime.services import retention
from tests.factories import make_job
from tests.runtime.admin.conftest import drain

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_retention_policy_and_it_is_audited(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("admin:runtime_retentionpolicy_add"),
        {"graph": "chain", "tenant_id": "", "keep_last": "2", "ttl_seconds": ""},
    )
    assert response.status_code == 302, response.content
    policy = RetentionPolicy.objects.get()
    assert (policy.graph, policy.keep_last, policy.ttl_seconds) == ("chain", 2, None)
    entry = AuditLog.objects.get(action="retention_policy.create")
    assert entry.actor_id == "alice"


def test_an_admin_creates_a_budget_policy_and_it_is_audited(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        reverse("admin:runtime_budgetpolicy_add"),
        {
            "scope": "tenant",
            "graph": "",
            "tenant_id": "acme",
            "max_tokens": "1000",
            "max_cost_usd": "1.5",
            "on_exceed": "pause",
        },
    )
    assert response.status_code == 302, response.content
    policy = BudgetPolicy.objects.get()
    assert (policy.scope, policy.max_cost_usd) == ("tenant", Decimal("1.5"))
    assert AuditLog.objects.filter(action="budget_policy.create").exists()


def test_an_operator_reads_policies_but_may_not_change_them(
    operator_client: Client,
) -> None:
    RetentionPolicy.objects.create(keep_last=3)
    listing = operator_client.get(reverse("admin:runtime_retentionpolicy_changelist"))
    assert listing.status_code == 200
    add = operator_client.get(reverse("admin:runtime_budgetpolicy_add"))
    assert add.status_code == 403


def test_the_run_page_shows_stored_bytes_and_usage(operator_client: Client) -> None:
    job = make_job("chain", tenant_id="acme")
    drain()
    RunUsage.objects.create(
        job=job,
        tenant_id="acme",
        graph="chain",
        input_tokens=120,
        output_tokens=30,
        cost_usd=Decimal("0.0042"),
        model_calls=2,
        tool_calls=1,
        grants={"run:tokens:100": 50},
        updated_at=job.created_at,
    )
    RetentionPolicy.objects.create(keep_last=1)
    retention.prune()
    page = operator_client.get(reverse("admin:runtime_job_change", args=[job.pk]))
    body = page.content.decode()
    assert "in 1 checkpoint," in body
    assert "pruned" in body
    assert "150 tokens (120 in, 30 out)" in body
    assert "$0.004200" in body
    assert "approved beyond budget: 50 (run:tokens:100)" in body
    assert "tenant acme: 150 tokens" in body
