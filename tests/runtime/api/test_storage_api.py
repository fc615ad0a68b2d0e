"""/v1/jobs/{thread_id}/storage: what a thread stores, before and after pruning."""

from __future__ import annotations

import pytest

from runtime.models import RetentionPolicy
from runtime.services import retention
from runtime.worker.drain import worker_drain
from tests.factories import make_job
from tests.runtime.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_it_shows_rows_and_bytes_and_when_the_thread_was_pruned(bob_operator) -> None:
    job = make_job("grower", {"value": 10})
    worker_drain(worker_id="api-test")
    response = bob_operator.get(f"/v1/jobs/{job.thread_id}/storage")
    assert response.status_code == 200
    before = response.json()["data"]
    assert (before["thread_id"], before["checkpoints"]) == (job.thread_id, 12)
    assert before["bytes"] == sum(
        before[k] for k in ("checkpoint_bytes", "blob_bytes", "write_bytes")
    )
    assert before["pruned_at"] is None
    RetentionPolicy.objects.create(keep_last=1, compact=True)
    retention.prune()
    after = bob_operator.get(f"/v1/jobs/{job.thread_id}/storage").json()["data"]
    assert (after["checkpoints"], after["writes"]) == (1, 0)
    assert after["bytes"] < before["bytes"]
    assert after["pruned_at"] is not None


def test_an_unknown_thread_is_404(bob_operator) -> None:
    assert_error(bob_operator.get("/v1/jobs/nope/storage"), 404, "not_found")


def test_it_needs_credentials_and_the_jobs_scope(stranger, walter_worker) -> None:
    job = make_job()
    assert_error(stranger.get(f"/v1/jobs/{job.thread_id}/storage"), 401, "unauthorized")
    assert_error(
        walter_worker.get(f"/v1/jobs/{job.thread_id}/storage"), 403, "forbidden"
    )
