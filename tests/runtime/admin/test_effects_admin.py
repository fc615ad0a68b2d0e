"""The run page's effects: the calls listed, a recorded replay, a fork with
overrides, and the run beside its fork."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from runtime import selectors
from runtime.models import AuditLog, Job
from runtime.worker.execute import attempt_execute
from tests.runtime.effect_graphs import side_effects, start


def detail(job: Job) -> str:
    return reverse("admin:runtime_job_change", args=[job.pk])


def finished(job: Job) -> Job:
    attempt = job.attempts.order_by("-created_at").first()
    assert attempt_execute(attempt_id=attempt.pk, worker_id="w") == "completed"
    job.refresh_from_db()
    return job


def test_the_run_page_lists_the_effects(agent_env, operator_client: Client):
    job = finished(start("paying_agent"))
    body = operator_client.get(detail(job)).content.decode()
    assert 'id="job-effects"' in body
    assert body.count('class="oris-effect"') == 3
    assert "openai:scripted-gpt" in body
    assert "Replay from recorded effects" in body


def test_a_recorded_replay_from_the_console_reports_and_calls_nothing(
    agent_env, wire, operator_client: Client
):
    job = finished(start("paying_agent"))
    sent = len(wire.requests)
    response = operator_client.post(
        detail(job), {"action_name": "replay_recorded"}, follow=True
    )
    assert "Recorded replay: reproduced (3 of 3 effects answered)" in (
        response.content.decode()
    )
    assert len(wire.requests) == sent
    row = AuditLog.objects.get(action="job.replay_recorded")
    assert row.actor_id == "bob"


def test_a_fork_from_the_console_shows_beside_its_original(
    agent_env, wire, operator_client: Client
):
    job = finished(start("paying_agent"))
    at = next(
        e.checkpoint_id
        for e in selectors.job_history(job=job)
        if e.next_nodes == ("model",) and (e.step or 0) > 1
    )
    response = operator_client.post(
        detail(job),
        {"action_name": "fork", "checkpoint_id": at, "model": "other-gpt"},
    )
    fork = Job.objects.get(fork_of=job.thread_id)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:runtime_job_compare", args=[job.pk, fork.thread_id]
    )
    finished(fork)
    page = operator_client.get(response["Location"]).content.decode()
    assert "other-gpt: done after 1 charges" in page
    assert 'class="oris-effect-changed"' in page
    assert page.count('class="oris-effect-same"') == 2
    assert 'id="compare-totals"' in page
    assert len(side_effects()) == 1
    assert fork.thread_id in operator_client.get(detail(job)).content.decode()


def test_a_bad_fork_says_why_not(agent_env, operator_client: Client):
    job = finished(start("paying_agent"))
    response = operator_client.post(
        detail(job),
        {"action_name": "fork", "checkpoint_id": "nope", "tool_results": "{"},
        follow=True,
    )
    assert "Not done:" in response.content.decode()
    assert not Job.objects.filter(fork_of=job.thread_id).exists()


def test_viewers_cannot_fork(agent_env, viewer_client: Client):
    job = finished(start("paying_agent"))
    body = viewer_client.get(detail(job)).content.decode()
    assert "Fork and run live" not in body
    viewer_client.post(detail(job), {"action_name": "fork", "checkpoint_id": "x"})
    assert not Job.objects.filter(fork_of=job.thread_id).exists()
