"""/v1/jobs/{thread_id}/effects, /recorded-replay, /forks and /compare/{other}."""

from __future__ import annotations

from runtime import selectors
from runtime.models import AuditLog, Job
from runtime.worker.execute import attempt_execute
from tests.runtime.api.conftest import assert_error
from tests.runtime.effect_graphs import start


def finished(job: Job) -> Job:
    attempt = job.attempts.order_by("-created_at").first()
    assert attempt_execute(attempt_id=attempt.pk, worker_id="w") == "completed"
    job.refresh_from_db()
    return job


def test_it_lists_a_jobs_effects_with_their_totals(agent_env, bob_operator):
    job = finished(start("paying_agent"))
    response = bob_operator.get(f"/v1/jobs/{job.thread_id}/effects")
    assert response.status_code == 200
    data = response.json()["data"]
    assert [(e["kind"], e["step"]) for e in data["effects"]] == [
        ("model", 1),
        ("tool", 2),
        ("model", 3),
    ]
    assert data["totals"]["model_calls"] == 2
    assert data["totals"]["tool_calls"] == 1
    assert data["totals"]["total_tokens"] == sum(
        e["usage"]["total_tokens"] for e in data["effects"]
    )


def test_a_recorded_replay_answers_with_its_report(agent_env, wire, alice_admin):
    job = finished(start("paying_agent"))
    sent = len(wire.requests)
    response = alice_admin.post(f"/v1/jobs/{job.thread_id}/recorded-replay")
    assert response.status_code == 200, response.content
    report = response.json()["data"]
    assert report["status"] == "reproduced"
    assert report["effects_answered"] == 3
    assert len(wire.requests) == sent
    assert AuditLog.objects.filter(action="job.replay_recorded").exists()


def test_a_fork_runs_and_compares_with_its_original(agent_env, wire, bob_operator):
    job = finished(start("paying_agent"))
    checkpoint_id = next(
        e.checkpoint_id
        for e in selectors.job_history(job=job)
        if e.next_nodes == ("model",) and (e.step or 0) > 1
    )
    response = bob_operator.post(
        f"/v1/jobs/{job.thread_id}/forks",
        {"checkpoint_id": checkpoint_id, "overrides": {"temperature": 0.5}},
        format="json",
    )
    assert response.status_code == 200, response.content
    fork = Job.objects.get(thread_id=response.json()["data"]["thread_id"])
    assert (fork.fork_of, fork.effect_overrides) == (
        job.thread_id,
        {"temperature": 0.5},
    )
    finished(fork)
    assert wire.requests[-1]["temperature"] == 0.5
    compared = bob_operator.get(f"/v1/jobs/{job.thread_id}/compare/{fork.thread_id}")
    assert compared.status_code == 200
    data = compared.json()["data"]
    assert data["overrides"] == {"temperature": 0.5}
    assert [e["status"] for e in data["effects"]][:1] == ["same"]
    assert "changed" in [e["status"] for e in data["effects"]]
    assert set(data["totals"]) == {"original", "fork"}


def test_a_fork_with_bad_overrides_is_refused(agent_env, bob_operator):
    job = finished(start("paying_agent"))
    response = bob_operator.post(
        f"/v1/jobs/{job.thread_id}/forks",
        {"checkpoint_id": "x", "overrides": {"colour": "red"}},
        format="json",
    )
    assert_error(response, 400, "invalid_argument")
    assert Job.objects.count() == 1


def test_effects_need_credentials_and_the_jobs_scope(
    agent_env, stranger, walter_worker
):
    job = start("paying_agent")
    assert_error(stranger.get(f"/v1/jobs/{job.thread_id}/effects"), 401, "unauthorized")
    assert_error(
        walter_worker.get(f"/v1/jobs/{job.thread_id}/effects"), 403, "forbidden"
    )
    assert_error(
        walter_worker.post(f"/v1/jobs/{job.thread_id}/recorded-replay"),
        403,
        "forbidden",
    )


def test_an_unknown_job_is_404(agent_env, bob_operator):
    assert_error(bob_operator.get("/v1/jobs/nope/effects"), 404, "not_found")
    assert_error(bob_operator.post("/v1/jobs/nope/recorded-replay"), 404, "not_found")
    assert_error(bob_operator.get("/v1/jobs/nope/compare/other"), 404, "not_found")


def test_a_running_job_does_not_replay(agent_env, bob_operator):
    job = start("paying_agent")
    response = bob_operator.post(f"/v1/jobs/{job.thread_id}/recorded-replay")
    assert_error(response, 409, "conflict")
