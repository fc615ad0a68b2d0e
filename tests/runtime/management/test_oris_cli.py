from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from graphs import InterruptPolicy
from runtime.models import AuditLog
from runtime.worker.drain import worker_drain
from tests.runtime.policy_graphs import paused, register

pytestmark = pytest.mark.django_db


def oris(*args: str) -> str:
    out = io.StringIO()
    call_command("oris", *args, stdout=out)
    return out.getvalue()


def drain() -> None:
    worker_drain(worker_id="cli-test")


def test_run_approve_and_complete_from_the_cli() -> None:
    thread = oris("run", "approval", "--input", '{"topic": "cli"}').split()[0]
    drain()
    status = json.loads(oris("status", thread))
    assert status["status"] == "interrupted"
    assert status["pending_interrupts"][0]["value"]["question"] == "Publish this draft?"

    assert oris("resume", thread, "--value", "true").split() == [thread, "queued"]
    drain()
    status = json.loads(oris("status", thread))
    assert status["status"] == "completed"
    assert status["result"]["approved"] is True
    assert AuditLog.objects.filter(action="interrupt.resume", actor_type="system")


def test_run_with_wait_reports_the_settled_job(settings) -> None:
    settings.ORIS_MAX_DOORBELL_WAIT_SECONDS = 0
    thread = "waited"
    out = io.StringIO()
    with pytest.raises(CommandError, match="still queued"):
        call_command(
            "oris",
            "run",
            "chain",
            "--thread",
            thread,
            "--wait",
            "--timeout",
            "0.2",
            stdout=out,
        )
    drain()
    assert json.loads(oris("status", thread))["status"] == "completed"


def test_list_and_cancel() -> None:
    thread = oris("run", "chain").split()[0]
    assert thread in oris("list")
    assert oris("cancel", thread, "--reason", "oops").split() == [thread, "cancelled"]
    assert "cancelled" in oris("list", "--status", "cancelled")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "nope"), "unknown graph 'nope'"),
        (("run", "chain", "--input", "{bad"), "--input is not valid JSON"),
        (("status", "missing"), "job 'missing' not found"),
        (("resume", "missing"), "job 'missing' not found"),
    ],
)
def test_it_reports_clear_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        oris(*args)


def test_resume_of_a_job_that_is_not_waiting_is_refused() -> None:
    thread = oris("run", "chain").split()[0]
    with pytest.raises(CommandError, match="has no pending interrupt"):
        oris("resume", thread, "--value", "true")
    with pytest.raises(CommandError, match="--value is not valid JSON"):
        oris("resume", thread, "--value", "{")


def test_graphs_lists_the_demos() -> None:
    assert {"approval", "echo", "chain"} <= set(oris("graphs").split())


def test_resume_gives_the_reason_an_interrupts_policy_requires(settings) -> None:
    register(settings)
    found = paused(InterruptPolicy(reason_required=True))
    thread = found.job.thread_id
    with pytest.raises(CommandError, match="requires a reason"):
        oris("resume", thread)
    assert oris("resume", thread, "--reason", "checked").split() == [thread, "queued"]
    assert AuditLog.objects.get(action="interrupt.resume").details["reason"] == (
        "checked"
    )


def test_resume_is_refused_where_the_policy_names_someone_else(settings) -> None:
    register(settings)
    found = paused(InterruptPolicy(group="oris-operator"))
    with pytest.raises(CommandError, match="may not answer"):
        oris("resume", found.job.thread_id)
