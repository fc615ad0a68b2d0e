"""Retention: pruning, compaction and expiry of finished threads, on the real
database (both backends), with the saver reading what is left."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from graphs import serde
from runtime import selectors
from runtime.checkpointer import DjangoSaver
from runtime.models import (
    Attempt,
    AuditLog,
    Checkpoint,
    CheckpointBlob,
    CheckpointWrite,
    Interrupt,
    Job,
    RetentionPolicy,
)
from runtime.services import retention
from runtime.services.jobs import job_replay
from runtime.worker.drain import worker_drain
from tests.factories import ALICE, make_job
from tests.runtime.test_crash_recovery import MANAGE, worker_env

pytestmark = pytest.mark.django_db


def finished(value: int = 12, **options: Any) -> Job:
    """A completed run of ``grower``: ``value`` steps, one checkpoint each."""
    job = make_job("grower", {"value": value}, **options)
    worker_drain(worker_id="retention-test")
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    return job


def states(thread_id: str) -> dict[str, Any]:
    """Every root checkpoint's id -> its decoded state and next nodes."""
    saver = DjangoSaver()
    found = {}
    for item in saver.list({"configurable": {"thread_id": thread_id}}):
        if item.config["configurable"]["checkpoint_ns"] == "":
            cp = item.checkpoint
            cid = item.config["configurable"]["checkpoint_id"]
            found[cid] = (cp["channel_values"], item.metadata["step"])
    return found


def policy(**fields: Any) -> RetentionPolicy:
    return RetentionPolicy.objects.create(**fields)


def test_keep_last_keeps_the_newest_checkpoints_and_they_still_decode() -> None:
    job = finished(12)
    before = states(job.thread_id)
    assert len(before) == 14  # the input, START and 12 steps
    blobs = CheckpointBlob.objects.filter(thread_id=job.thread_id)
    assert blobs.filter(type="delta").count() >= 8  # trail is a delta chain
    policy(graph="grower", keep_last=3)

    report = retention.prune()

    newest = sorted(before)[-3:]
    after = states(job.thread_id)
    assert sorted(after) == newest
    assert {cid: after[cid] for cid in newest} == {cid: before[cid] for cid in newest}
    assert report.threads_pruned == 1
    assert report.checkpoints == 11
    assert report.blobs > 0
    job.refresh_from_db()
    assert job.pruned_at is not None
    # The inspect and history reads, and the head's state, are the kept ones.
    assert selectors.job_state(job=job).values["trail"][-1] == "s11"
    history = selectors.job_history(job=job)
    assert [e.checkpoint_id for e in history] == newest


def test_time_travel_to_every_kept_checkpoint_still_works() -> None:
    job = finished(10)
    policy(keep_last=4)
    retention.prune()
    kept = sorted(states(job.thread_id))
    assert len(kept) == 4
    for checkpoint_id in kept[:-1]:  # the head has nothing left to run
        job.refresh_from_db()
        job_replay(job=job, actor=ALICE, checkpoint_id=checkpoint_id)
        worker_drain(worker_id="retention-test")
        job.refresh_from_db()
        assert job.status == Job.Status.COMPLETED, job.error
        assert job.result["trail"] == [f"s{i}" for i in range(10)]


def test_compaction_turns_the_heads_chain_into_one_snapshot() -> None:
    job = finished(12)
    head = max(states(job.thread_id).items())
    policy(graph="grower", keep_last=1, compact=True)

    report = retention.prune()

    assert report.chains_compacted == 1
    assert states(job.thread_id) == dict([head])
    blobs = CheckpointBlob.objects.filter(thread_id=job.thread_id)
    trail = blobs.get(channel="trail")  # one blob: the full list
    assert trail.type == "json"
    assert serde.loads(bytes(trail.value)) == [f"s{i}" for i in range(12)]
    header = Checkpoint.objects.get(thread_id=job.thread_id).checkpoint
    assert header["chain"]["trail"] == [0, 12, trail.version]
    # The thread goes on from the snapshot.
    graph = selectors.job_graph(job=job).builder.compile(checkpointer=DjangoSaver())
    config = {"configurable": {"thread_id": job.thread_id}}
    graph.update_state(config, {"trail": [*head[1][0]["trail"], "more"]})
    assert graph.get_state(config).values["trail"][-2:] == ["s11", "more"]


def test_expired_threads_go_with_their_records_and_the_audit_log_stays() -> None:
    old = finished(3, tenant_id="acme")
    recent = finished(3, tenant_id="acme")
    waiting = make_job("grower", {"value": 3}, tenant_id="acme")  # never run
    Job.objects.filter(pk__in=[old.pk, waiting.pk]).update(
        finished_at=timezone.now() - timedelta(days=2)
    )
    audit = AuditLog.objects.count()
    policy(tenant_id="acme", ttl_seconds=86_400)

    report = retention.prune()

    assert report.deleted_thread_ids == [old.thread_id]
    assert not Job.objects.filter(pk=old.pk).exists()
    assert not Attempt.objects.filter(job_id=old.pk).exists()
    for model in (Checkpoint, CheckpointBlob, CheckpointWrite):
        assert not model.objects.filter(thread_id=old.thread_id).exists()
    assert Checkpoint.objects.filter(thread_id=recent.thread_id).count() == 5
    assert Job.objects.filter(pk=waiting.pk, status=Job.Status.QUEUED).exists()
    assert AuditLog.objects.count() == audit  # nothing removed, nothing added
    assert report.checkpoints == 5
    assert report.rows > report.checkpoints + report.blobs


def test_an_expired_interrupted_thread_is_kept_and_a_finished_one_loses_its_interrupts(
    settings,
) -> None:
    from runtime import registry

    settings.ORIS_GRAPHS = {
        **settings.ORIS_GRAPHS,
        "ask": "tests.runtime.services.test_runs:build_two_questions",
    }
    registry._cache.clear()
    paused = make_job("ask", {})
    worker_drain(worker_id="retention-test")
    assert Interrupt.objects.filter(job=paused).count() == 2
    done = finished(2)
    cancelled_with_interrupts = make_job("ask", {})
    worker_drain(worker_id="retention-test")
    from runtime.services.jobs import job_cancel

    job_cancel(job=cancelled_with_interrupts, actor=ALICE, reason="no")
    long_ago = timezone.now() - timedelta(days=30)
    Job.objects.update(finished_at=long_ago)
    policy(ttl_seconds=60)

    report = retention.prune()

    assert sorted(report.deleted_thread_ids) == sorted(
        [done.thread_id, cancelled_with_interrupts.thread_id]
    )
    assert Job.objects.get().pk == paused.pk
    assert Interrupt.objects.filter(job=paused).count() == 2
    assert Interrupt.objects.count() == 2


def test_a_dry_run_reports_what_the_sweep_then_deletes() -> None:
    job = finished(12)
    expired = finished(2)
    Job.objects.filter(pk=expired.pk).update(
        finished_at=timezone.now() - timedelta(hours=2)
    )
    policy(keep_last=2, ttl_seconds=3600)
    rows = Checkpoint.objects.count() + CheckpointBlob.objects.count()

    dry = retention.prune(dry_run=True)

    assert Checkpoint.objects.count() + CheckpointBlob.objects.count() == rows
    assert Job.objects.filter(pk=expired.pk).exists()
    real = retention.prune()
    assert (dry.threads_deleted, dry.threads_pruned) == (1, 1)
    assert (dry.checkpoints, dry.blobs, dry.writes) == (
        real.checkpoints,
        real.blobs,
        real.writes,
    )
    assert dry.deleted_thread_ids == real.deleted_thread_ids == [expired.thread_id]
    assert len(states(job.thread_id)) == 2


def test_a_pruned_thread_is_left_alone_until_it_finishes_again() -> None:
    job = finished(6)
    policy(keep_last=2)
    assert retention.prune().threads_pruned == 1
    assert retention.prune().threads_pruned == 0  # nothing new
    kept = sorted(states(job.thread_id))
    job_replay(job=job, actor=ALICE, checkpoint_id=kept[0])
    worker_drain(worker_id="retention-test")
    assert len(states(job.thread_id)) > 2  # the replay's own checkpoints
    assert retention.prune().threads_pruned == 1
    assert len(states(job.thread_id)) == 2


def test_the_most_specific_policy_wins(settings) -> None:
    settings.ORIS_RETENTION_KEEP_LAST = 5
    policy(keep_last=4)
    policy(graph="grower", keep_last=3)
    policy(tenant_id="acme", keep_last=2)
    policy(graph="grower", tenant_id="acme", keep_last=1)
    assert retention.policy_for(graph="grower", tenant_id="acme").keep_last == 1
    assert retention.policy_for(graph="grower", tenant_id="other").keep_last == 3
    assert retention.policy_for(graph="chain", tenant_id="acme").keep_last == 2
    assert retention.policy_for(graph="chain", tenant_id="").keep_last == 4
    RetentionPolicy.objects.all().delete()
    assert retention.policy_for(graph="chain", tenant_id="").keep_last == 5


def test_without_a_policy_nothing_is_touched() -> None:
    job = finished(4)
    rows = Checkpoint.objects.count(), CheckpointBlob.objects.count()
    report = retention.prune()
    assert (report.rows, report.threads_pruned) == (0, 0)
    assert (Checkpoint.objects.count(), CheckpointBlob.objects.count()) == rows
    assert Job.objects.get(pk=job.pk).pruned_at is None


def test_small_batches_cover_every_thread() -> None:
    jobs = [finished(4) for _ in range(5)]
    policy(keep_last=1)
    report = retention.prune(batch=2)
    assert report.threads_pruned == 5
    for job in jobs:
        assert len(states(job.thread_id)) == 1


def test_the_scheduled_sweep_is_registered_and_prunes() -> None:
    from django_q.models import Schedule

    from runtime import tasks

    schedule = Schedule.objects.get(name="oris-retention")
    assert (schedule.func, schedule.minutes) == ("runtime.tasks.prune_finished", 10)
    job = finished(5)
    policy(keep_last=1)
    assert tasks.prune_finished() > 0
    assert len(states(job.thread_id)) == 1


def test_oris_prune_reports_as_json_and_dry_runs() -> None:
    job = finished(5)
    policy(keep_last=2)
    out = StringIO()
    call_command("oris", "prune", "--dry-run", "--json", stdout=out)
    dry = json.loads(out.getvalue())
    assert dry["dry_run"] is True
    assert (dry["threads_pruned"], dry["checkpoints"]) == (1, 5)
    assert len(states(job.thread_id)) == 7
    out = StringIO()
    call_command("oris", "prune", stdout=out)
    assert "retention (deleted):" in out.getvalue()
    assert "checkpoints       5" in out.getvalue()
    assert len(states(job.thread_id)) == 2


def test_thread_storage_counts_rows_and_bytes() -> None:
    job = finished(12)
    before = selectors.thread_storage(thread_id=job.thread_id)
    assert before.checkpoints == 14
    assert before.bytes == (
        before.checkpoint_bytes + before.blob_bytes + before.write_bytes
    )
    payload = sum(
        len(bytes(b.value or b""))
        for b in CheckpointBlob.objects.filter(thread_id=job.thread_id)
    )
    assert before.blob_bytes == payload
    policy(keep_last=1, compact=True)
    retention.prune()
    after = selectors.thread_storage(thread_id=job.thread_id)
    assert after.checkpoints == 1
    assert after.bytes < before.bytes / 3


def test_policies_are_saved_and_deleted_with_an_audit_row() -> None:
    from runtime.services.audit import Actor

    admin = Actor(type="user", id="root", role="admin")
    saved = retention.retention_policy_save(
        policy=RetentionPolicy(graph="grower", keep_last=2), actor=admin
    )
    retention.retention_policy_delete(policy=saved, actor=admin)
    actions = list(
        AuditLog.objects.filter(resource_type="retention_policy")
        .order_by("id")
        .values_list("action", "actor_id")
    )
    assert actions == [
        ("retention_policy.create", "root"),
        ("retention_policy.delete", "root"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_run_in_a_worker_process_is_not_disturbed(tmp_path) -> None:
    """A real worker runs a long thread while sweeps prune the finished ones
    (everything eligible, ``keep_last=1``); the live run completes with every
    checkpoint it wrote."""
    done = [finished(6) for _ in range(4)]
    policy(keep_last=1, compact=True)
    live = make_job("grower", {"value": 20})
    attempt_id = live.attempts.get().pk
    worker = subprocess.Popen(
        [
            sys.executable,
            MANAGE,
            "shell",
            "--no-imports",
            "-c",
            "from runtime.worker.execute import attempt_execute; "
            f"attempt_execute(attempt_id={attempt_id!r}, worker_id='live')",
        ],
        env=worker_env() | {"ORIS_TEST_GROW_NAP_SECONDS": "0.05"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sweeps = 0
    deadline = time.monotonic() + 120
    while worker.poll() is None and time.monotonic() < deadline:
        retention.prune(batch=2)
        sweeps += 1
        if sweeps == 3:  # meanwhile another run finishes, to be pruned too
            done.append(finished(6))
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert sweeps >= 1
    live.refresh_from_db()
    assert live.status == Job.Status.COMPLETED, live.error
    assert live.result["trail"] == [f"s{i}" for i in range(20)]
    # Pruned only once finished (a sweep may catch it before the process exits).
    if live.pruned_at is None:
        assert len(states(live.thread_id)) == 22
    else:
        assert live.pruned_at >= live.finished_at
    for job in done:
        assert len(states(job.thread_id)) == 1
    retention.prune()  # finished now: pruned like the others
    assert len(states(live.thread_id)) == 1
