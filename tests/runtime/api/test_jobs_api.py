from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from runtime.models import AuditLog, Job
from runtime.worker.drain import worker_drain
from tests.runtime.api.conftest import assert_contract, assert_error
from tests.runtime.sample_graphs import effects

pytestmark = pytest.mark.django_db

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def drain() -> int:
    return worker_drain(worker_id="api-test")


def worker_thread() -> None:
    """Plays the django-q2 worker, started a moment after the request: runs the
    run once it is claimable (a loaded machine may commit it later than that)."""
    deadline = time.monotonic() + 30
    try:
        while not drain() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        connection.close()


def run(client, **body):
    return client.post("/v1/jobs/run", body, format="json")


def test_run_accepts_and_answers_queued(bob_operator) -> None:
    response = run(bob_operator, thread_id="t1", input="hello", priority=5)
    data = assert_contract(response, "ApiEnvelope_RunJobResponse")["data"]
    assert data["thread_id"] == "t1"
    assert data["status"] == "queued"
    assert data["idempotent_replay"] is False
    assert data["trace"]["parent_span_id"] is None
    job = Job.objects.get(thread_id="t1")
    assert (job.graph, job.priority) == ("echo", 5)
    assert job.input == {"messages": [{"role": "user", "content": "hello"}]}


def test_post_jobs_is_the_same_operation(bob_operator) -> None:
    response = bob_operator.post(
        "/v1/jobs", {"thread_id": "t2", "graph": "chain", "input": {}}, format="json"
    )
    assert (
        assert_contract(response, "ApiEnvelope_RunJobResponse")["data"]["thread_id"]
        == "t2"
    )


@pytest.mark.django_db(transaction=True)
def test_run_with_wait_returns_when_the_run_settles(bob_operator) -> None:
    # No cluster in this test: a thread plays the django-q2 worker.
    worker = threading.Timer(0.3, worker_thread)
    worker.start()
    response = run(
        bob_operator,
        thread_id="w1",
        graph="approval",
        input={"topic": "x"},
        wait_ms=5000,
    )
    worker.join()
    data = assert_contract(response, "ApiEnvelope_RunJobResponse")["data"]
    assert data["status"] == "interrupted"
    assert data["interrupts"][0]["question"] == "Publish this draft?"
    # What a waiting client needs next, without a second call.
    (pending,) = data["pending_interrupts"]
    assert pending["interrupt_id"].startswith("int-")
    assert pending["value"] == data["interrupts"][0]
    assert (data["result"], data["error"]) == (None, None)


def waited_run(client, **body) -> dict:
    worker = threading.Timer(0.3, worker_thread)
    worker.start()
    response = run(client, wait_ms=10_000, **body)
    worker.join()
    return assert_contract(response, "ApiEnvelope_RunJobResponse")["data"]


@pytest.mark.django_db(transaction=True)
def test_a_waited_run_that_completes_carries_its_result(bob_operator) -> None:
    data = waited_run(bob_operator, thread_id="w2", graph="chain", input={})
    assert data["status"] == "completed"
    assert data["result"] == {"trail": ["a", "b", "c"]}
    assert (data["error"], data["pending_interrupts"]) == (None, [])


@pytest.mark.django_db(transaction=True)
def test_a_waited_run_that_fails_carries_its_error(bob_operator, monkeypatch) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "5")
    data = waited_run(bob_operator, thread_id="w3", graph="flaky", input={})
    assert data["status"] == "failed"
    assert data["error"] == {
        "type": "builtins.RuntimeError",
        "message": "flaky failure #1",
    }
    assert data["result"] is None


def test_a_wait_that_ends_before_the_run_says_where_it_stands(bob_operator) -> None:
    response = run(bob_operator, thread_id="w4", graph="chain", wait_ms=50)
    data = assert_contract(response, "ApiEnvelope_RunJobResponse")["data"]
    assert data["status"] == "queued"
    assert (data["result"], data["error"], data["pending_interrupts"]) == (
        None,
        None,
        [],
    )


def test_an_answer_without_wait_has_only_the_contracts_fields(bob_operator) -> None:
    data = run(bob_operator, thread_id="w5", graph="chain").json()["data"]
    assert not {"result", "error", "pending_interrupts"} & set(data)


@pytest.mark.django_db(transaction=True)
def test_a_waited_resume_carries_the_result(bob_operator) -> None:
    run(bob_operator, thread_id="w6", graph="approval", input={"topic": "x"})
    drain()
    worker = threading.Timer(0.3, worker_thread)
    worker.start()
    response = bob_operator.post(
        "/v1/jobs/w6/resume", {"value": True, "wait_ms": 10_000}, format="json"
    )
    worker.join()
    data = assert_contract(response, "ApiEnvelope_RunJobResponse")["data"]
    assert data["status"] == "completed"
    assert data["result"]["published"].startswith("Draft on x")
    assert data["pending_interrupts"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"thread_id": "  "}, "thread_id must not be empty"),
        ({"thread_id": "t", "priority": 101}, "priority must be between 0 and 100"),
        (
            {"thread_id": "t", "tenant_id": "a b"},
            "tenant_id contains unsupported characters",
        ),
        (
            {"thread_id": "t", "tenant_id": "a" * 129},
            "tenant_id must be 128 characters or fewer",
        ),
        (
            {
                "thread_id": "t",
                "timeout_policy": {"timeout_ms": 0, "on_timeout_status": "failed"},
            },
            "timeout_policy.timeout_ms must be > 0",
        ),
        (
            {
                "thread_id": "t",
                "timeout_policy": {"timeout_ms": 5, "on_timeout_status": "x"},
            },
            "timeout_policy.on_timeout_status must be one of: failed|cancelled",
        ),
        (
            {"thread_id": "t", "idempotency_key": " "},
            "idempotency_key must not be empty",
        ),
        ({"thread_id": "t", "graph": "nope"}, "unknown graph 'nope'"),
    ],
)
def test_run_validates_before_anything_runs(bob_operator, body, message) -> None:
    error = assert_error(run(bob_operator, **body), 400, "invalid_argument")
    assert error["message"] == message
    assert not Job.objects.exists()


def test_a_duplicate_thread_is_a_conflict(bob_operator) -> None:
    run(bob_operator, thread_id="dup")
    assert_error(run(bob_operator, thread_id="dup"), 409, "conflict")


def test_idempotency_replays_and_refuses_a_changed_payload(bob_operator) -> None:
    first = run(bob_operator, thread_id="i1", input="a", idempotency_key="k1").json()
    again = run(bob_operator, thread_id="i1", input="a", idempotency_key="k1").json()
    assert again["data"]["idempotent_replay"] is True
    assert again["data"]["trace"] == first["data"]["trace"]
    assert Job.objects.count() == 1
    error = assert_error(
        run(bob_operator, thread_id="i1", input="b", idempotency_key="k1"),
        409,
        "conflict",
    )
    assert error["details"] == {"idempotency_key": "k1", "operation": "run"}


def test_traceparent_is_continued_or_refused(bob_operator) -> None:
    data = bob_operator.post(
        "/v1/jobs/run", {"thread_id": "tr"}, format="json", HTTP_TRACEPARENT=TRACEPARENT
    ).json()["data"]
    assert data["trace"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert data["trace"]["parent_span_id"] == "00f067aa0ba902b7"
    assert data["trace"]["traceparent"].endswith("-01")
    bad = bob_operator.post(
        "/v1/jobs/run",
        {"thread_id": "tr2"},
        format="json",
        HTTP_TRACEPARENT="00-zz-1-01",
    )
    assert assert_error(bad, 400, "invalid_argument")["message"].startswith(
        "traceparent"
    )


def test_list_filters_and_limits(bob_operator) -> None:
    for n in range(3):
        run(bob_operator, thread_id=f"l{n}")
    body = assert_contract(
        bob_operator.get("/v1/jobs?limit=2"), "ApiEnvelope_ListJobsResponse"
    )
    assert len(body["data"]["jobs"]) == 2
    assert bob_operator.get("/v1/jobs?status=completed").json()["data"]["jobs"] == []
    assert bob_operator.get("/v1/jobs?limit=0").json()["data"]["jobs"] == []
    assert_error(bob_operator.get("/v1/jobs?limit=abc"), 400, "invalid_argument")


def test_inspection_of_a_completed_run(bob_operator) -> None:
    run(bob_operator, thread_id="c1", graph="chain", input={})
    drain()
    state = assert_contract(
        bob_operator.get("/v1/jobs/c1"), "ApiEnvelope_JobStateResponse"
    )
    assert state["data"]["values"]["trail"] == ["a", "b", "c"]
    detail = assert_contract(
        bob_operator.get("/v1/jobs/c1/detail"), "ApiEnvelope_JobDetailResponse"
    )["data"]
    assert detail["status"] == "completed"
    assert len(detail["history"]) >= 4
    history = assert_contract(
        bob_operator.get("/v1/jobs/c1/history"), "ApiEnvelope_JobHistoryResponse"
    )["data"]["history"]
    timeline = assert_contract(
        bob_operator.get("/v1/jobs/c1/timeline"), "ApiEnvelope_JobTimelineResponse"
    )["data"]["timeline"]
    assert [t["seq"] for t in timeline] == list(range(1, len(history) + 1))
    assert {t["event_type"] for t in timeline} == {"checkpoint_saved"}
    assert_contract(
        bob_operator.get("/v1/jobs/c1/timeline/export"),
        "ApiEnvelope_TimelineExportResponse",
    )
    first = history[0]["checkpoint_id"]
    checkpoint = assert_contract(
        bob_operator.get(f"/v1/jobs/c1/checkpoints/{first}"),
        "ApiEnvelope_CheckpointInspectResponse",
    )
    assert checkpoint["data"]["checkpoint_id"] == first
    assert_error(bob_operator.get("/v1/jobs/c1/checkpoints/nope"), 404, "not_found")


def test_unknown_threads_are_404(bob_operator) -> None:
    for path in ("", "/detail", "/history", "/timeline", "/timeline/export"):
        assert_error(bob_operator.get(f"/v1/jobs/ghost{path}"), 404, "not_found")


def test_a_queued_job_has_no_timeline_yet(bob_operator) -> None:
    run(bob_operator, thread_id="q1")
    assert bob_operator.get("/v1/jobs/q1/history").json()["data"]["history"] == []
    assert_error(bob_operator.get("/v1/jobs/q1/timeline"), 404, "not_found")


def test_interrupt_resume_complete_over_http(bob_operator) -> None:
    run(bob_operator, thread_id="h1", graph="approval", input={"topic": "http"})
    drain()
    listing = assert_contract(
        bob_operator.get("/v1/interrupts?status=pending&run_id=h1"),
        "ApiEnvelope_InterruptListResponse",
    )["data"]["interrupts"]
    assert len(listing) == 1
    interrupt_id = listing[0]["interrupt_id"]
    detail = assert_contract(
        bob_operator.get(f"/v1/interrupts/{interrupt_id}"),
        "ApiEnvelope_InterruptDetailResponse",
    )["data"]
    assert detail["value"]["question"] == "Publish this draft?"

    resumed = bob_operator.post(
        f"/v1/interrupts/{interrupt_id}/resume", {"value": True}, format="json"
    )
    assert (
        assert_contract(resumed, "ApiEnvelope_RunJobResponse")["data"]["status"]
        == "queued"
    )
    again = bob_operator.post(
        f"/v1/interrupts/{interrupt_id}/resume", {"value": True}, format="json"
    )
    assert again.status_code == 200
    assert_error(
        bob_operator.post(
            f"/v1/interrupts/{interrupt_id}/resume", {"value": False}, format="json"
        ),
        409,
        "conflict",
    )
    drain()
    state = bob_operator.get("/v1/jobs/h1").json()["data"]["values"]
    assert state["published"].startswith("Draft on http")
    assert (
        bob_operator.get("/v1/jobs/h1/detail").json()["data"]["status"] == "completed"
    )
    actions = list(
        AuditLog.objects.filter(result="success").values_list("action", flat=True)
    )
    assert {"job.run", "interrupt.resume"} <= set(actions)


def test_resume_by_thread_and_reject(bob_operator) -> None:
    for thread in ("r1", "r2"):
        run(bob_operator, thread_id=thread, graph="approval", input={"topic": "t"})
    drain()
    resumed = bob_operator.post("/v1/jobs/r1/resume", {"value": True}, format="json")
    assert (
        assert_contract(resumed, "ApiEnvelope_RunJobResponse")["data"]["status"]
        == "queued"
    )
    assert_error(
        bob_operator.post("/v1/jobs/r1/resume", {"value": True}, format="json"),
        409,
        "conflict",
    )
    assert_error(
        bob_operator.post("/v1/jobs/r1/resume", {}, format="json"),
        400,
        "invalid_argument",
    )
    interrupt_id = bob_operator.get("/v1/interrupts?run_id=r2").json()["data"][
        "interrupts"
    ][0]["interrupt_id"]
    rejected = bob_operator.post(
        f"/v1/interrupts/{interrupt_id}/reject", {"reason": "no"}, format="json"
    )
    data = assert_contract(rejected, "ApiEnvelope_CancelJobResponse")["data"]
    assert data == {
        "thread_id": "r2",
        "status": "cancelled",
        "reason": "interrupt rejected",
    }
    assert_error(
        bob_operator.post(f"/v1/interrupts/{interrupt_id}/reject", {}, format="json"),
        409,
        "conflict",
    )
    assert_error(bob_operator.get("/v1/interrupts/nope"), 404, "not_found")


def test_replay_runs_once_per_target(bob_operator) -> None:
    run(bob_operator, thread_id="p1", graph="chain", input={})
    drain()
    first = bob_operator.post("/v1/jobs/p1/replay", {}, format="json")
    assert (
        assert_contract(first, "ApiEnvelope_RunJobResponse")["data"]["status"]
        == "queued"
    )
    drain()
    assert effects("c") == 2
    again = bob_operator.post("/v1/jobs/p1/replay", {}, format="json").json()["data"]
    assert again["idempotent_replay"] is True
    drain()
    assert effects("c") == 2
    assert_error(
        bob_operator.post(
            "/v1/jobs/p1/replay", {"checkpoint_id": "nope"}, format="json"
        ),
        404,
        "not_found",
    )


def test_cancel_is_persistent(bob_operator) -> None:
    run(bob_operator, thread_id="x1", graph="chain", input={})
    response = bob_operator.post(
        "/v1/jobs/x1/cancel", {"reason": "stop"}, format="json"
    )
    data = assert_contract(response, "ApiEnvelope_CancelJobResponse")["data"]
    assert data == {"thread_id": "x1", "status": "cancelled", "reason": "stop"}
    assert Job.objects.get(thread_id="x1").status == "cancelled"
    assert bob_operator.post("/v1/jobs/x1/cancel", {}, format="json").status_code == 200
    drain()
    assert effects("a") == 0
    run(bob_operator, thread_id="x2", graph="chain", input={})
    drain()
    assert_error(
        bob_operator.post("/v1/jobs/x2/cancel", {}, format="json"), 409, "conflict"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_of_a_keyed_run_create_one_job(bob_operator) -> None:
    barrier = threading.Barrier(4)
    answers = []

    def submit() -> None:
        try:
            barrier.wait()
            response = run(
                bob_operator, thread_id="same", input="x", idempotency_key="k"
            )
            answers.append(response.json()["data"]["idempotent_replay"])
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False, True, True, True]
    assert Job.objects.filter(thread_id="same").count() == 1
