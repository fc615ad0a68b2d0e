from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.utils import timezone

from runtime.errors import InterruptAlreadyResolved
from runtime.models import Attempt, Checkpoint, DeadLetter, Interrupt, Job, Lease
from runtime.services import claims
from runtime.services.attempts import Outcome
from runtime.services.dead_letters import dead_letter_replay
from runtime.services.interrupts import interrupt_reject, interrupt_resume
from runtime.services.jobs import job_replay
from runtime.worker import execute
from tests.factories import ALICE, make_job
from tests.runtime.sample_graphs import effects

pytestmark = pytest.mark.django_db

RETRY = {"strategy": "fixed", "backoff_ms": 1, "max_retries": 2}


def run(job: Job) -> str | None:
    attempt = job.attempts.exclude(status__in=["completed", "failed", "cancelled"])
    return execute.attempt_execute(attempt_id=attempt.get().pk, worker_id="w1")


def test_it_runs_a_job_to_completion_with_checkpoints() -> None:
    job = make_job("chain")
    assert run(job) == "completed"
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    assert job.result["trail"] == ["a", "b", "c"]
    assert job.attempts.get().status == Attempt.Status.COMPLETED
    assert not Lease.objects.exists()
    assert Checkpoint.objects.filter(thread_id=job.thread_id).count() >= 3


def test_a_duplicate_delivery_does_nothing() -> None:
    job = make_job("chain")
    attempt_id = job.attempts.get().pk
    assert execute.attempt_execute(attempt_id=attempt_id) == "completed"
    assert execute.attempt_execute(attempt_id=attempt_id) is None
    assert effects("a") == 1


def test_the_echo_graph_answers_a_string_input() -> None:
    job = make_job("echo", input="hi")
    assert run(job) == "completed"
    job.refresh_from_db()
    contents = [m["content"] for m in job.result["messages"]]
    assert contents == ["hi", "echo: hi"]


def test_approval_interrupts_then_resumes_from_the_checkpoint() -> None:
    job = make_job("approval", input={"topic": "oris"})
    assert run(job) == "interrupted"
    job.refresh_from_db()
    assert job.status == Job.Status.INTERRUPTED
    pending = job.interrupts.get()
    assert pending.status == Interrupt.Status.PENDING
    assert pending.value["question"] == "Publish this draft?"

    interrupt_resume(interrupt=pending, value=True, actor=ALICE)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    resume = job.attempts.get(kind=Attempt.Kind.RESUME)
    assert resume.resume == {pending.graph_interrupt_id: True}

    assert run(job) == "completed"
    job.refresh_from_db()
    assert job.result["published"].startswith("Draft on oris")


def test_resuming_twice_is_harmless_and_a_different_answer_conflicts() -> None:
    job = make_job("approval", input={"topic": "oris"})
    run(job)
    pending = job.interrupts.get()
    interrupt_resume(interrupt=pending, value=True, actor=ALICE)
    interrupt_resume(interrupt=pending, value=True, actor=ALICE)
    assert job.attempts.filter(kind=Attempt.Kind.RESUME).count() == 1
    with pytest.raises(InterruptAlreadyResolved):
        interrupt_resume(interrupt=pending, value=False, actor=ALICE)


def test_rejecting_an_interrupt_cancels_the_job() -> None:
    job = make_job("approval", input={"topic": "oris"})
    run(job)
    interrupt_reject(interrupt=job.interrupts.get(), actor=ALICE, reason="off-brand")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert job.interrupts.get().status == Interrupt.Status.REJECTED


def test_a_retry_continues_without_rerunning_finished_nodes(monkeypatch) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "1")
    job = make_job("flaky", retry_policy=RETRY)
    assert run(job) == Outcome.RETRY_SCHEDULED
    attempt = job.attempts.get()
    assert (attempt.status, attempt.attempt_no) == ("retry_backoff", 2)
    assert attempt.retries.get().backoff_ms == 1
    time.sleep(0.01)
    assert run(job) == "completed"
    assert (effects("a"), effects("flaky")) == (1, 2)


def test_exhausted_retries_dead_letter_and_replay_completes(monkeypatch) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "3")
    job = make_job("flaky", retry_policy=RETRY)
    outcomes = []
    for _ in range(3):
        outcomes.append(run(job))
        time.sleep(0.01)
    assert outcomes == [
        Outcome.RETRY_SCHEDULED,
        Outcome.RETRY_SCHEDULED,
        Outcome.FAILED,
    ]
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "flaky failure #3" in job.error["message"]
    dead = DeadLetter.objects.get()
    assert (dead.reason, dead.attempt_no, dead.replay_status) == (
        "terminal_failed",
        3,
        "pending",
    )

    dead_letter_replay(dead_letter=dead, actor=ALICE)
    assert run(job) == "completed"
    dead.refresh_from_db()
    assert (dead.replay_status, dead.replay_count) == ("replayed", 1)
    assert effects("a") == 1


def test_a_job_cancelled_while_running_stops_at_the_next_superstep() -> None:
    job = make_job("self_cancel")
    assert run(job) == "cancelled"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert effects("after_cancel") == 0


def test_replay_from_a_checkpoint_reruns_the_later_nodes() -> None:
    job = make_job("chain")
    run(job)
    after_a = next(
        c.checkpoint_id
        for c in Checkpoint.objects.filter(thread_id=job.thread_id).order_by(
            "checkpoint_id"
        )
        if c.checkpoint.get("last") == ["a"]
    )
    job.refresh_from_db()
    job_replay(job=job, actor=ALICE, checkpoint_id=after_a)
    assert run(job) == "completed"
    assert (effects("a"), effects("b"), effects("c")) == (1, 2, 2)


def test_the_assistant_demo_asks_before_writing(settings, tmp_path) -> None:
    settings.ORIS_WORKSPACE_ROOT = str(tmp_path)
    job = make_job("assistant", input="What is 6*7?")
    assert run(job) == "interrupted"
    pending = job.interrupts.get()
    request = pending.value["action_requests"][0]
    assert (request["name"], request["args"]["path"]) == (
        "write_file",
        "results/calculation.txt",
    )
    assert not (tmp_path / "results").exists()
    interrupt_resume(
        interrupt=pending, value={"decisions": [{"type": "approve"}]}, actor=ALICE
    )
    assert run(job) == "completed"
    assert (tmp_path / "results" / "calculation.txt").read_text() == "6*7 = 42\n"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("interval", "sleep", "beaten"),
    [(0.1, 0.5, True), (5, 0.2, False)],  # a short superstep needs no beat
)
def test_a_long_superstep_is_heartbeaten(
    settings, monkeypatch, interval: float, sleep: float, beaten: bool
) -> None:
    settings.ORIS_HEARTBEAT_INTERVAL_SECONDS = interval
    monkeypatch.setenv("ORIS_TEST_SLOW_SECONDS", str(sleep))
    job = make_job("slow")
    assert run(job) == "completed"
    job.refresh_from_db()
    # how far the lease's heartbeat moved while the node slept: several beats
    assert (job.result["value"] >= 200) is beaten
    assert (job.result["value"] == 0) is not beaten


def latest_step(job: Job) -> int | None:
    latest = (
        Checkpoint.objects.filter(thread_id=job.thread_id, checkpoint_ns="")
        .order_by("-checkpoint_id")
        .first()
    )
    return None if latest is None else latest.metadata["step"]


def test_a_completed_runs_final_checkpoint_commits_with_its_outcome() -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    finish = execute.execute_leased(lease=lease)
    # the graph has ended; until its outcome is recorded the last step is unwritten
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert latest_step(job) == 2
    with transaction.atomic():
        assert finish() == Outcome.COMPLETED
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    assert latest_step(job) == 3


def test_a_run_whose_lease_expired_at_the_end_writes_neither() -> None:
    """The final checkpoint's fence holds for the outcome that writes it: an
    expired lease (not reaped yet) records nothing."""
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    finish = execute.execute_leased(lease=lease)
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now())
    with transaction.atomic():
        assert finish() == Outcome.LEASE_LOST
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert latest_step(job) == 2
    assert Lease.objects.filter(pk=lease.pk).exists()  # the reaper's to requeue


def test_a_run_cancelled_at_the_end_is_cancelled_without_its_last_step() -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    finish = execute.execute_leased(lease=lease)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    with transaction.atomic():
        assert finish() == Outcome.CANCELLED
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert latest_step(job) == 2


def test_a_run_that_lost_its_lease_at_the_end_writes_neither_and_runs_again() -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    finish = execute.execute_leased(lease=lease)
    Lease.objects.filter(pk=lease.pk).update(worker_id="someone-else")
    with transaction.atomic():
        assert finish() == Outcome.LEASE_LOST
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    assert latest_step(job) == 2  # the final checkpoint went with the outcome
    Lease.objects.filter(pk=lease.pk).delete()
    Attempt.objects.filter(pk=lease.attempt_id).update(status=Attempt.Status.QUEUED)
    assert run(job) == "completed"  # continues from step 2: only "c" runs again
    job.refresh_from_db()
    assert job.result["trail"] == ["a", "b", "c"]
    assert (effects("a"), effects("b"), effects("c")) == (1, 1, 2)
