"""/v1/jobs/{thread_id}/usage: what a run spent and its tenant's totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runtime.models import RunUsage
from tests.factories import make_job
from tests.runtime.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def spent(job, tokens: tuple[int, int], cost: str, tools: int = 0) -> None:
    RunUsage.objects.create(
        job=job,
        tenant_id=job.tenant_id,
        graph=job.graph,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=Decimal(cost),
        model_calls=1,
        tool_calls=tools,
        grants={"run:tokens:100": 50},
        updated_at=job.created_at,
    )


def test_it_shows_the_runs_usage_grants_and_tenant_totals(bob_operator) -> None:
    job = make_job(tenant_id="acme")
    spent(job, (10, 5), "0.25", tools=2)
    spent(make_job(tenant_id="acme"), (1, 1), "0.5")
    spent(make_job(tenant_id="other"), (100, 100), "9")
    response = bob_operator.get(f"/v1/jobs/{job.thread_id}/usage")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["thread_id"], data["tenant_id"]) == (job.thread_id, "acme")
    run = data["run"]
    assert (run["input_tokens"], run["output_tokens"], run["tokens"]) == (10, 5, 15)
    assert (run["cost_usd"], run["tool_calls"], run["wall_seconds"]) == (0.25, 2, 0)
    assert data["grants"] == {"run:tokens:100": 50}
    assert (data["tenant"]["tokens"], data["tenant"]["cost_usd"]) == (17, 0.75)


def test_a_run_with_no_calls_has_zero_usage(bob_operator) -> None:
    job = make_job()
    data = bob_operator.get(f"/v1/jobs/{job.thread_id}/usage").json()["data"]
    assert data["run"]["tokens"] == 0
    assert data["grants"] == {}


def test_an_unknown_thread_is_404(bob_operator) -> None:
    assert_error(bob_operator.get("/v1/jobs/nope/usage"), 404, "not_found")


def test_it_needs_credentials_and_the_jobs_scope(stranger, walter_worker) -> None:
    job = make_job()
    assert_error(stranger.get(f"/v1/jobs/{job.thread_id}/usage"), 401, "unauthorized")
    assert_error(walter_worker.get(f"/v1/jobs/{job.thread_id}/usage"), 403, "forbidden")
