"""Recorded replay answers every effect from the ledger (no request reaches the
model server, no tool runs) and reports the first divergence; a fork with another
model runs live from its checkpoint, and the comparison shows the difference."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agents import create_agent, tool
from runtime import registry, selectors
from runtime.errors import Conflict, InvalidArgument
from runtime.models import AuditLog, Effect, Interrupt, Job
from runtime.selectors.effects import job_compare, job_effects
from runtime.services.audit import Actor
from runtime.services.forks import job_fork
from runtime.services.interrupts import interrupt_resume
from runtime.services.replays import job_replay_recorded
from runtime.worker.execute import attempt_execute
from tests.runtime import effect_graphs
from tests.runtime.effect_graphs import side_effects, start


def run(job: Job) -> Job:
    attempt = job.attempts.order_by("-created_at").first()
    assert attempt_execute(attempt_id=attempt.pk, worker_id="w") == "completed"
    job.refresh_from_db()
    return job


def test_recorded_replay_reproduces_the_run_without_any_request(agent_env, wire):
    job = run(start("paying_agent", steps=3))
    recorded = len(wire.requests)
    assert recorded == 4
    assert len(side_effects()) == 3
    report = job_replay_recorded(job=job)
    assert report.status == "reproduced", report.divergence
    assert report.effects_recorded == report.effects_answered == 7
    assert report.state_changes == []
    assert len(wire.requests) == recorded  # nothing reached the model server
    assert len(side_effects()) == 3  # and no tool ran


def changed_prompt_agent():
    return create_agent(
        effect_graphs.model(),
        [tool(effect_graphs.charge)],
        system_prompt="You charge people twice.",
    )


def test_recorded_replay_reports_the_first_effect_a_changed_prompt_changes(
    agent_env, wire, settings, monkeypatch
):
    job = run(start("paying_agent"))
    monkeypatch.setattr(effect_graphs, "build_paying_agent", changed_prompt_agent)
    registry._cache.clear()
    report = job_replay_recorded(job=job)
    assert report.status == "diverged"
    divergence = report.divergence
    assert divergence["reason"] == "effect differs from the recording"
    expected, actual = divergence["expected"], divergence["actual"]
    assert (actual["kind"], actual["step"], actual["index"]) == ("model", 1, 0)
    assert "You charge people." in str(expected["request"]["messages"][0])
    assert "twice" in str(actual["request"]["messages"][0])
    assert len(wire.requests) == 2  # only the live run's


def first_tool_effect(job: Job) -> Effect:
    return Effect.objects.filter(thread_id=job.thread_id, kind="tool").earliest("step")


def test_a_recorded_request_with_its_keys_in_another_order_still_reproduces(
    agent_env, wire
):
    # the stored text differs from the replay's (keys reversed): compared as values
    job = run(start("paying_agent", steps=2))
    for row in Effect.objects.filter(thread_id=job.thread_id):
        reordered = dict(reversed(list(row.request.items())))
        Effect.objects.filter(pk=row.pk).update(request=reordered)
    report = job_replay_recorded(job=job)
    assert report.status == "reproduced", report.divergence
    assert report.effects_recorded == report.effects_answered == 5


def test_a_recorded_request_of_the_same_length_but_other_content_diverges(
    agent_env, wire
):
    job = run(start("paying_agent", steps=2))
    row = first_tool_effect(job)
    text = json.dumps(row.request)
    changed = json.loads(text.replace('"amount": 1', '"amount": 9'))
    assert changed != row.request
    assert len(json.dumps(changed)) == len(text)
    Effect.objects.filter(pk=row.pk).update(request=changed)
    report = job_replay_recorded(job=job)
    assert report.status == "diverged"
    divergence = report.divergence
    assert divergence["reason"] == "effect differs from the recording"
    expected, actual = divergence["expected"], divergence["actual"]
    assert (expected["kind"], expected["step"]) == ("tool", row.step)
    assert (actual["kind"], actual["step"], actual["index"]) == ("tool", row.step, 0)
    assert expected["request"] == changed
    assert actual["request"] == row.request
    assert report.effects_answered == 1  # the model call before it


def test_replaytest_exits_non_zero_on_a_divergence(agent_env, wire, monkeypatch):
    job = run(start("paying_agent"))
    out = io.StringIO()
    call_command("oris", "replaytest", "--thread", job.thread_id, stdout=out)
    assert "reproduced" in out.getvalue()
    monkeypatch.setattr(effect_graphs, "build_paying_agent", changed_prompt_agent)
    registry._cache.clear()
    with pytest.raises(CommandError, match="1 of 1 diverged"):
        call_command("oris", "replaytest", "--thread", job.thread_id, stdout=out)
    assert "effect differs from the recording" in out.getvalue()


def test_oris_replay_recorded_prints_the_report_and_fails_on_a_divergence(
    agent_env, wire, monkeypatch
):
    job = run(start("paying_agent"))
    out = io.StringIO()
    call_command("oris", "replay", job.thread_id, "--recorded", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["status"] == "reproduced"
    assert report["effects_answered"] == report["effects_recorded"] == 3
    monkeypatch.setattr(effect_graphs, "build_paying_agent", changed_prompt_agent)
    registry._cache.clear()
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("oris", "replay", job.thread_id, "--recorded", stdout=out)
    assert failed.value.returncode == 1
    assert "diverged" in out.getvalue()
    assert "effect differs from the recording (step 1 model" in out.getvalue()
    assert len(wire.requests) == 2  # only the live run's


def test_recorded_replay_of_a_resumed_run_answers_its_interrupt_again(agent_env):
    job = start("approved_payment")
    attempt_execute(attempt_id=job.attempts.get().pk, worker_id="w")
    job.refresh_from_db()
    assert job.status == Job.Status.INTERRUPTED
    asked = Interrupt.objects.get(job=job, status=Interrupt.Status.PENDING)
    interrupt_resume(interrupt=asked, value=7, actor=Actor.system())
    job = run(job)
    assert [amount for _key, amount in side_effects()] == [7]
    report = job_replay_recorded(job=job)
    assert report.status == "reproduced", report.divergence
    assert report.effects_recorded == report.effects_answered == 1
    assert len(side_effects()) == 1  # the replay did not charge again


def test_a_running_job_does_not_replay(agent_env):
    job = start("paying_agent")
    with pytest.raises(Conflict):
        job_replay_recorded(job=job)


def before_second_model_call(job: Job) -> str:
    """The checkpoint after the tools superstep (the model runs next)."""
    entries = selectors.job_history(job=job)
    return next(
        e.checkpoint_id
        for e in entries
        if e.next_nodes == ("model",) and (e.step or 0) > 1
    )


def test_a_fork_with_another_model_runs_live_from_its_checkpoint(agent_env, wire):
    original = run(start("paying_agent"))
    checkpoint_id = before_second_model_call(original)
    wire.reset()
    fork = job_fork(
        job=original,
        actor=Actor.system(),
        checkpoint_id=checkpoint_id,
        overrides={"model": "other-gpt"},
    )
    assert AuditLog.objects.filter(action="job.fork").exists()
    fork = run(fork)
    assert fork.result["messages"][-1]["content"] == "other-gpt: done after 1 charges"
    assert original.result["messages"][-1]["content"].startswith("scripted-gpt")
    assert [r["model"] for r in wire.requests] == ["other-gpt"]  # only what's new
    assert len(side_effects()) == 1  # the tool call came with the checkpoint

    compared = job_compare(original=original, fork=fork)
    assert [c.key for c in compared.state_changes] == ["messages"]
    statuses = [(p.status, (p.original or p.fork).kind) for p in compared.effects]
    assert statuses == [("same", "model"), ("same", "tool"), ("changed", "model")]
    last = compared.effects[-1]
    assert (last.original.name, last.fork.name) == (
        "openai:scripted-gpt",
        "openai:other-gpt",
    )
    assert compared.original_totals.model_calls == compared.fork_totals.model_calls
    assert compared.fork_totals.total_tokens > 0
    assert len(job_effects(job=fork)) == 3
    assert Effect.objects.filter(thread_id=fork.thread_id).count() == 1


def test_a_fork_can_override_a_tool_result_and_the_system_prompt(agent_env, wire):
    original = run(start("paying_agent"))
    first = selectors.job_history(job=original)
    at = next(e.checkpoint_id for e in first if e.next_nodes == ("model",))
    fork = run(
        job_fork(
            job=original,
            actor=Actor.system(),
            checkpoint_id=at,
            overrides={
                "system_prompt": "Be brief.",
                "tool_results": {"charge": "card declined"},
            },
        )
    )
    assert len(side_effects()) == 1  # the fork's charge never ran
    tool_message = fork.result["messages"][2]
    assert tool_message["content"] == "card declined"
    sent = wire.requests[-2]["messages"][0]
    assert sent == {"role": "system", "content": "Be brief."}


def test_a_fork_refuses_bad_overrides_and_unknown_checkpoints(agent_env):
    original = run(start("paying_agent"))
    with pytest.raises(InvalidArgument, match="unknown overrides: color"):
        job_fork(
            job=original,
            actor=Actor.system(),
            checkpoint_id="x",
            overrides={"color": 1},
        )
    with pytest.raises(InvalidArgument, match="temperature"):
        job_fork(
            job=original,
            actor=Actor.system(),
            checkpoint_id="x",
            overrides={"temperature": "hot"},
        )
    from runtime.errors import NotFound

    with pytest.raises(NotFound):
        job_fork(job=original, actor=Actor.system(), checkpoint_id="nope", overrides={})
    assert Job.objects.count() == 1  # nothing half-written
