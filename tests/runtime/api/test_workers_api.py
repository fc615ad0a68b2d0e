from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from examples.http_worker import HttpWorker
from runtime.models import Attempt, DeadLetter, Job, Lease
from runtime.services import reaper
from tests.factories import make_job
from tests.runtime.api.conftest import assert_contract, assert_error

pytestmark = pytest.mark.django_db

RETRY = {"strategy": "fixed", "backoff_ms": 1, "max_retries": 1}


def poll(client, worker_id: str = "w1", **extra):
    body = {"worker_id": worker_id, **extra}
    return client.post("/v1/workers/poll", body, format="json")


def dispatched(client, worker_id: str = "w1") -> dict:
    data = assert_contract(poll(client, worker_id), "ApiEnvelope_WorkerPollResponse")[
        "data"
    ]
    assert data["decision"] == "dispatched", data
    return data


def test_poll_dispatches_with_the_job_for_http_workers(walter_worker) -> None:
    job = make_job("chain", input={"x": 1})
    data = dispatched(walter_worker)
    assert data["attempt_id"] == job.attempts.get().pk
    assert (data["thread_id"], data["graph"], data["input"]) == (
        job.thread_id,
        "chain",
        {"x": 1},
    )
    assert Attempt.objects.get().status == Attempt.Status.LEASED
    assert Job.objects.get().status == Job.Status.RUNNING
    noop = poll(walter_worker).json()["data"]
    assert (noop["decision"], noop["worker_active_leases"]) == ("noop", 1)


def test_poll_applies_worker_and_tenant_limits(walter_worker) -> None:
    for _ in range(3):
        make_job(tenant_id="acme")
    dispatched(walter_worker, "w1")
    worker_limited = poll(walter_worker, "w1", max_active_leases=1).json()["data"]
    assert (worker_limited["decision"], worker_limited["reason"]) == (
        "backpressure",
        "worker_limit",
    )
    tenant_limited = poll(walter_worker, "w2", tenant_max_active_leases=1).json()[
        "data"
    ]
    assert tenant_limited["decision"] == "backpressure"
    assert (tenant_limited["reason"], tenant_limited["tenant_id"]) == (
        "tenant_limit",
        "acme",
    )
    assert tenant_limited["tenant_active_leases"] == 1


def test_poll_validates_the_worker_id(walter_worker) -> None:
    error = assert_error(poll(walter_worker, " "), 400, "invalid_argument")
    assert error["message"] == "worker_id must not be empty"


def test_heartbeat_and_extend_are_fenced(walter_worker) -> None:
    make_job()
    data = dispatched(walter_worker)
    beat = walter_worker.post(
        "/v1/workers/w1/heartbeat",
        {"lease_id": data["lease_id"], "lease_ttl_seconds": 60},
        format="json",
    )
    body = assert_contract(beat, "ApiEnvelope_WorkerLeaseResponse")["data"]
    assert body["lease_id"] == data["lease_id"]
    extend = walter_worker.post(
        "/v1/workers/w1/extend-lease", {"lease_id": data["lease_id"]}, format="json"
    )
    assert extend.status_code == 200
    assert Lease.objects.get().version == 3
    error = assert_error(
        walter_worker.post(
            "/v1/workers/w2/heartbeat", {"lease_id": data["lease_id"]}, format="json"
        ),
        409,
        "conflict",
    )
    assert error["details"] == {"expected_worker_id": "w1", "actual_worker_id": "w2"}
    assert_error(
        walter_worker.post(
            "/v1/workers/w1/heartbeat", {"lease_id": "lease-x"}, format="json"
        ),
        404,
        "not_found",
    )


def test_report_step_dedupes(walter_worker) -> None:
    make_job()
    attempt_id = dispatched(walter_worker)["attempt_id"]
    step = {
        "attempt_id": attempt_id,
        "action_id": "a1",
        "status": "ok",
        "dedupe_token": "d1",
    }
    first = walter_worker.post("/v1/workers/w1/report-step", step, format="json")
    assert (
        assert_contract(first, "ApiEnvelope_WorkerAckResponse")["data"]["status"]
        == "reported"
    )
    again = walter_worker.post("/v1/workers/w1/report-step", step, format="json")
    assert again.json()["data"]["status"] == "reported_idempotent"
    changed = {**step, "status": "failed"}
    assert_error(
        walter_worker.post("/v1/workers/w1/report-step", changed, format="json"),
        409,
        "conflict",
    )
    assert_error(
        walter_worker.post("/v1/workers/w9/report-step", step, format="json"),
        409,
        "conflict",
    )
    empty = {**step, "action_id": " "}
    assert (
        assert_error(
            walter_worker.post("/v1/workers/w1/report-step", empty, format="json"),
            400,
            "invalid_argument",
        )["message"]
        == "action_id must not be empty"
    )


def test_ack_completes_and_terminal_states_cannot_be_reacked(walter_worker) -> None:
    job = make_job()
    attempt_id = dispatched(walter_worker)["attempt_id"]
    assert_error(
        walter_worker.post(
            "/v1/workers/w2/ack",
            {"attempt_id": attempt_id, "terminal_status": "completed"},
            format="json",
        ),
        409,
        "conflict",
    )
    ack = walter_worker.post(
        "/v1/workers/w1/ack",
        {"attempt_id": attempt_id, "terminal_status": "completed"},
        format="json",
    )
    data = assert_contract(ack, "ApiEnvelope_WorkerAckResponse")["data"]
    assert (data["status"], data["next_attempt_no"]) == ("completed", 1)
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    assert_error(
        walter_worker.post(
            "/v1/workers/w1/ack",
            {"attempt_id": attempt_id, "terminal_status": "completed"},
            format="json",
        ),
        409,
        "conflict",
    )
    assert_error(
        walter_worker.post(
            "/v1/workers/w1/ack",
            {"attempt_id": attempt_id, "terminal_status": "done"},
            format="json",
        ),
        400,
        "invalid_argument",
    )


def test_failed_acks_retry_then_dead_letter_and_replay(
    walter_worker, bob_operator
) -> None:
    make_job()
    attempt_id = dispatched(walter_worker)["attempt_id"]
    first = walter_worker.post(
        "/v1/workers/w1/ack",
        {
            "attempt_id": attempt_id,
            "terminal_status": "failed",
            "retry_policy": RETRY,
        },
        format="json",
    ).json()["data"]
    assert (first["status"], first["next_attempt_no"]) == ("retry_scheduled", 2)
    assert first["next_retry_at"] is not None
    retries = bob_operator.get(f"/v1/attempts/{attempt_id}/retries")
    history = assert_contract(retries, "ApiEnvelope_AttemptRetryHistoryResponse")[
        "data"
    ]
    assert (history["current_status"], len(history["history"])) == ("retry_backoff", 1)

    later = timezone.now() + timedelta(seconds=1)
    Attempt.objects.filter(pk=attempt_id).update(retry_at=later - timedelta(seconds=2))
    dispatched(walter_worker)
    final = walter_worker.post(
        "/v1/workers/w1/ack",
        {"attempt_id": attempt_id, "terminal_status": "failed"},
        format="json",
    ).json()["data"]
    assert final["status"] == "failed"
    entries = assert_contract(
        bob_operator.get("/v1/dlq?status=pending"), "ApiEnvelope_DeadLetterListResponse"
    )["data"]["entries"]
    assert [e["attempt_id"] for e in entries] == [attempt_id]
    assert_contract(
        bob_operator.get(f"/v1/dlq/{attempt_id}"), "ApiEnvelope_DeadLetterItem"
    )
    replay = bob_operator.post(f"/v1/dlq/{attempt_id}/replay")
    data = assert_contract(replay, "ApiEnvelope_DeadLetterReplayResponse")["data"]
    assert (data["status"], data["replay_count"]) == ("requeued", 1)
    assert_error(bob_operator.post(f"/v1/dlq/{attempt_id}/replay"), 409, "conflict")
    assert DeadLetter.objects.get().replay_status == "replayed"
    assert dispatched(walter_worker)["attempt_id"] == attempt_id
    assert_error(bob_operator.get("/v1/dlq/nope"), 404, "not_found")


def test_an_expired_lease_is_recovered_by_another_worker(walter_worker) -> None:
    make_job()
    first = dispatched(walter_worker, "w1")
    reaper.reap(at=timezone.now() + timedelta(seconds=31))
    second = dispatched(walter_worker, "w2")
    assert second["attempt_id"] == first["attempt_id"]
    assert_error(
        walter_worker.post(
            "/v1/workers/w1/ack",
            {"attempt_id": first["attempt_id"], "terminal_status": "completed"},
            format="json",
        ),
        409,
        "conflict",
    )


def test_the_trace_advances_through_worker_operations(
    walter_worker, bob_operator
) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    run = bob_operator.post(
        "/v1/jobs/run",
        {"thread_id": "tr", "graph": "chain"},
        format="json",
        HTTP_TRACEPARENT=parent,
    ).json()["data"]["trace"]
    spans = [run["span_id"]]
    data = dispatched(walter_worker)
    spans.append(data["trace"]["span_id"])
    assert data["trace"]["parent_span_id"] == run["span_id"]
    beat = walter_worker.post(
        "/v1/workers/w1/heartbeat", {"lease_id": data["lease_id"]}, format="json"
    ).json()["data"]["trace"]
    assert beat["parent_span_id"] == spans[-1]
    ack = walter_worker.post(
        "/v1/workers/w1/ack",
        {"attempt_id": data["attempt_id"], "terminal_status": "completed"},
        format="json",
    ).json()["data"]["trace"]
    assert ack["parent_span_id"] == beat["span_id"]
    assert {ack["trace_id"], beat["trace_id"]} == {"4bf92f3577b34da6a3ce929d0e0e4736"}


@pytest.mark.django_db(transaction=True)
def test_the_reference_worker_drives_a_job_over_http(live_server) -> None:
    from runtime.services.api_keys import api_key_create
    from tests.factories import ALICE

    _, secret = api_key_create(actor=ALICE, role="worker", key_id="http-worker")
    job = make_job("chain")
    headers = {"x-api-key-id": "http-worker", "x-api-key": secret}
    steps = []

    def handler(polled, report):
        steps.append(polled["thread_id"])
        report("work", "succeeded")
        return "completed"

    with httpx.Client(base_url=live_server.url, headers=headers) as client:
        worker = HttpWorker(client, "ext-1", handler)
        assert worker.run_once() == "completed"
        assert worker.run_once() == "noop"
    job.refresh_from_db()
    assert steps == [job.thread_id]
    assert job.status == Job.Status.COMPLETED
    assert job.attempts.get().step_reports.get().action_id == "work"
