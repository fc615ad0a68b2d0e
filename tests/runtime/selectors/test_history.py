"""One read of a thread's checkpoints serves the API and the console."""

from __future__ import annotations

import pytest
from django.urls import reverse

from runtime import selectors
from runtime.errors import NotFound
from runtime.models import Checkpoint
from runtime.worker.drain import worker_drain
from tests.factories import make_job
from tests.runtime.api.conftest import keyed_client

pytestmark = pytest.mark.django_db


def completed_chain():
    job = make_job("chain", thread_id="h-1")
    worker_drain(worker_id="selectors-test")
    job.refresh_from_db()
    return job


def test_history_is_oldest_first_with_each_change() -> None:
    job = completed_chain()
    entries = selectors.job_history(job=job)
    stored = Checkpoint.objects.filter(thread_id="h-1", checkpoint_ns="")
    assert [e.checkpoint_id for e in entries] == sorted(
        stored.values_list("checkpoint_id", flat=True)
    )
    assert entries[-1].state["trail"] == ["a", "b", "c"]
    assert [(c.key, c.kind) for c in entries[-1].changes] == [("trail", "changed")]
    assert all(e.created_at for e in entries)


def test_the_api_and_the_console_show_the_same_history(admin_client) -> None:
    alice_admin = keyed_client("admin", "alice")
    job = completed_chain()
    ids = [e.checkpoint_id for e in selectors.job_history(job=job)]
    api = alice_admin.get("/v1/jobs/h-1/history").json()["data"]["history"]
    assert [item["checkpoint_id"] for item in api] == ids
    timeline = alice_admin.get("/v1/jobs/h-1/timeline").json()["data"]["timeline"]
    assert [item["checkpoint_id"] for item in timeline] == ids
    page = admin_client.get(reverse("admin:runtime_job_change", args=[job.pk]))
    assert all(checkpoint_id in page.content.decode() for checkpoint_id in ids)


def test_state_is_the_graphs_view_of_a_checkpoint() -> None:
    job = completed_chain()
    latest = selectors.job_state(job=job)
    assert latest.values["trail"] == ["a", "b", "c"]
    first = selectors.job_history(job=job)[0].checkpoint_id
    at_first = selectors.job_checkpoint_state(job=job, checkpoint_id=first)
    assert at_first.checkpoint_id == first
    assert at_first.values != latest.values
    with pytest.raises(NotFound):
        selectors.job_checkpoint_state(job=job, checkpoint_id="nope")


def test_a_queued_job_has_no_history_and_no_timeline() -> None:
    job = make_job("chain")
    assert selectors.job_history(job=job) == []
    assert selectors.job_state(job=job).values == {}
    with pytest.raises(NotFound):
        selectors.job_timeline_history(job=job)
