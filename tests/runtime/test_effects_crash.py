"""A worker SIGKILLed with a model call in flight: on takeover the effects that
committed are answered from the ledger (the tool's side effect happens once, the
model is not asked again), and only the call in flight is sent once more."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from runtime.models import Effect, Job
from runtime.services import claims, reaper
from runtime.worker import execute
from tests.agents.agent_wire import AgentWire
from tests.runtime.effect_graphs import side_effects, start
from tests.runtime.test_crash_recovery import MANAGE


def run_in_doomed_worker(env: dict, wire: AgentWire, attempt_id: str, at: int) -> int:
    """Runs the attempt in a worker process the model server kills when request
    number ``at`` arrives; returns the worker's exit status."""
    code = (
        "from runtime.worker.execute import attempt_execute; "
        f"attempt_execute(attempt_id={attempt_id!r}, worker_id='doomed')"
    )
    worker = subprocess.Popen(
        [sys.executable, MANAGE, "shell", "--no-imports", "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wire.kill(worker.pid, at=at)
    _, err = worker.communicate(timeout=180)
    assert worker.returncode == -9, err.decode()
    return worker.returncode


def take_over(job: Job) -> str:
    """The dead worker's lease expires; a survivor claims and runs the attempt."""
    later = timezone.now() + timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS + 1)
    assert reaper.reap(at=later) == 1
    lease = claims.attempt_claim(worker_id="survivor", at=later)
    assert lease is not None
    return execute.run_leased(lease=lease)


@pytest.mark.parametrize("graph", ["pay_in_one_node", "apay_in_one_node"])
def test_a_task_killed_mid_way_repeats_only_the_call_in_flight(agent_env, wire, graph):
    """Sync calls, and async ones (``ainvoke``, an ``async def`` effect)
    alike."""
    job = start(graph)
    run_in_doomed_worker(agent_env, wire, job.attempts.get().pk, at=2)
    # model call 1 and the tool committed before call 2 started (the flush
    # before each effect); the node itself never finished
    assert [(e.kind, e.name) for e in Effect.objects.order_by("started_at")] == [
        ("model", "openai:scripted-gpt"),
        ("function", "charge"),
    ]
    assert len(side_effects()) == 1
    assert len(wire.requests) == 2

    assert take_over(job) == "completed"
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    assert job.result["messages"][-1]["content"].endswith("done after 1 charges")
    (row,) = side_effects()  # the tool did not run again
    tool_effect = Effect.objects.get(kind="function")
    assert row == (tool_effect.key, 1)  # it got its effect key
    assert len(wire.requests) == 3  # call 1 was answered from the ledger
    assert wire.requests[2] == wire.requests[1]  # the one in flight, sent again
    assert Effect.objects.count() == 3


def test_an_agent_killed_after_its_tool_committed_calls_nothing_twice(agent_env, wire):
    job = start("paying_agent")
    # request 2 is the model call after the tools superstep committed
    run_in_doomed_worker(agent_env, wire, job.attempts.get().pk, at=2)
    assert len(side_effects()) == 1
    assert sorted(Effect.objects.values_list("kind", flat=True)) == ["model", "tool"]

    assert take_over(job) == "completed"
    assert len(side_effects()) == 1
    assert len(wire.requests) == 3
    assert wire.requests[2] == wire.requests[1]
    usage = Effect.objects.filter(kind="model").values_list("total_tokens", flat=True)
    assert all(tokens > 0 for tokens in usage)
