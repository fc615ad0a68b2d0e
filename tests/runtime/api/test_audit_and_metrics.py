from __future__ import annotations

import pytest
from django.test import Client

from runtime import metrics
from tests.factories import make_job
from tests.runtime.api.conftest import assert_contract, assert_error

pytestmark = pytest.mark.django_db


def test_audit_logs_list_and_filter(bob_operator) -> None:
    bob_operator.post(
        "/v1/jobs/run", {"thread_id": "a1"}, format="json", HTTP_X_REQUEST_ID="rid-1"
    )
    bob_operator.post("/v1/jobs/a1/cancel", {}, format="json")
    body = assert_contract(
        bob_operator.get("/v1/audit/logs"), "ApiEnvelope_AuditLogListResponse"
    )
    actions = [log["action"] for log in body["data"]["logs"]]
    assert actions[:2] == ["job.cancel", "job.run"]
    only = bob_operator.get("/v1/audit/logs?request_id=rid-1").json()["data"]["logs"]
    assert [(log["action"], log["actor_id"], log["actor_role"]) for log in only] == [
        ("job.run", "bob", "operator")
    ]
    assert len(bob_operator.get("/v1/audit/logs?limit=1").json()["data"]["logs"]) == 1
    assert_error(
        bob_operator.get("/v1/audit/logs?from_ms=5&to_ms=1"), 400, "invalid_argument"
    )
    assert (
        bob_operator.get("/v1/audit/logs?from_ms=0&to_ms=1").json()["data"]["logs"]
        == []
    )


def test_attempt_retries_of_an_unknown_attempt_is_404(bob_operator) -> None:
    assert_error(bob_operator.get("/v1/attempts/nope/retries"), 404, "not_found")


def scrape() -> dict[str, float]:
    text = Client().get("/metrics").content.decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("oris_runtime_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_expose_the_reference_series_from_the_database(
    walter_worker, django_capture_on_commit_callbacks
) -> None:
    make_job()
    make_job(tenant_id="t")
    before = scrape()
    assert before["oris_runtime_queue_depth"] == 2
    # Counted when the work commits (here: the test's transaction never does).
    with django_capture_on_commit_callbacks(execute=True):
        walter_worker.post("/v1/workers/poll", {"worker_id": "w"}, format="json")
        walter_worker.post(
            "/v1/workers/poll",
            {"worker_id": "w", "max_active_leases": 1},
            format="json",
        )
        metrics.inc("terminal_acks_total", status="failed")
        metrics.inc("terminal_acks_total", status="completed")
    after = scrape()
    assert after["oris_runtime_queue_depth"] == 1
    assert after["oris_runtime_lease_operations_total"] == 1
    assert after['oris_runtime_backpressure_total{reason="worker_limit"}'] == 1
    assert after['oris_runtime_backpressure_total{reason="tenant_limit"}'] == 0
    assert after["oris_runtime_terminal_error_rate"] == 0.5
    assert after["oris_runtime_dispatch_latency_ms_count"] == 1
    assert after['oris_runtime_dispatch_latency_ms_bucket{le="+Inf"}'] == 1
    assert after["oris_runtime_recovery_latency_ms_count"] == 0
