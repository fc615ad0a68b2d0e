from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from runtime.models import Attempt, AuditLog, Checkpoint, Job
from runtime.services import claims, reaper
from runtime.services.interrupts import interrupt_resume
from tests.factories import ALICE, make_job
from tests.runtime.admin.conftest import dead_letter, drain, interrupted

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:runtime_job_changelist")


def detail(job: Job) -> str:
    return reverse("admin:runtime_job_change", args=[job.pk])


def test_the_list_filters_by_status_and_graph(operator_client: Client) -> None:
    queued = make_job("chain")
    waiting = interrupted().job
    body = operator_client.get(RUNS, {"status__exact": "interrupted"}).content
    assert waiting.thread_id.encode() in body
    assert queued.thread_id.encode() not in body
    body = operator_client.get(RUNS, {"graph": "chain"}).content
    assert queued.thread_id.encode() in body
    assert waiting.thread_id.encode() not in body


def test_the_list_searches_by_thread_id_and_tenant(operator_client: Client) -> None:
    acme = make_job("chain", tenant_id="acme", thread_id="thread-acme-1")
    other = make_job("chain", tenant_id="globex", thread_id="thread-globex-1")
    body = operator_client.get(RUNS, {"q": "acme"}).content
    assert acme.thread_id.encode() in body
    assert other.thread_id.encode() not in body
    body = operator_client.get(RUNS, {"q": "thread-globex"}).content
    assert other.thread_id.encode() in body


def test_the_detail_shows_attempts_timeline_checkpoints_and_graph(
    operator_client: Client,
) -> None:
    job = interrupted().job
    body = operator_client.get(detail(job)).content.decode()
    attempt = job.attempts.get()
    assert attempt.pk in body
    assert 'id="timeline"' in body
    assert "run accepted" in body
    assert "attempt #1 (run) completed" in body
    assert "interrupted" in body
    assert Checkpoint.objects.filter(thread_id=job.thread_id).count() >= 2
    assert 'class="oris-state-added"' in body  # notes, then draft, were added
    assert "next: human_approval" in body
    assert '<div class="mermaid" id="graph-diagram">' in body
    assert "runtime/vendor/mermaid/mermaid.min.js" in body
    assert "class human_approval current" in body


def test_a_lease_taken_over_by_the_reaper_shows_in_the_timeline(
    operator_client: Client,
) -> None:
    job = make_job("chain")
    lease = claims.attempt_claim(worker_id="worker-gone")
    assert lease is not None
    silent = timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS + 4)
    assert reaper.reap(at=lease.heartbeat_at + silent) == 1
    body = operator_client.get(detail(job)).content.decode()
    seconds = silent.total_seconds()
    assert f"worker worker-gone went silent ({seconds:.1f} s since its last" in body
    assert "its attempt requeued by system:oris" in body


def test_a_completed_run_is_marked_at_the_end(operator_client: Client) -> None:
    job = make_job("chain")
    drain()
    body = operator_client.get(detail(job)).content.decode()
    assert "class __end__ current" in body
    assert "Replay from this checkpoint" in body
    assert 'id="cancel-form"' not in body


def test_cancel_stops_a_waiting_run_and_is_audited(operator_client: Client) -> None:
    job = interrupted().job
    response = operator_client.post(
        detail(job),
        {"action_name": "cancel", "reason": "no longer needed"},
        follow=True,
    )
    assert "Cancelled." in response.content.decode()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert job.cancel_reason == "no longer needed"
    row = AuditLog.objects.get(action="job.cancel", resource_id=job.thread_id)
    assert (row.actor_type, row.actor_id) == ("user", "bob")


def test_cancelling_a_finished_run_says_why_not(operator_client: Client) -> None:
    job = make_job("chain")
    drain()
    response = operator_client.post(detail(job), {"action_name": "cancel"}, follow=True)
    assert "already completed" in response.content.decode()


def test_replay_from_a_checkpoint_reruns_the_rest(operator_client: Client) -> None:
    job = interrupted().job
    interrupt_resume(interrupt=job.interrupts.get(), value=True, actor=ALICE)
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    first = Checkpoint.objects.filter(thread_id=job.thread_id).order_by(
        "checkpoint_id"
    )[0]
    response = operator_client.post(
        detail(job),
        {"action_name": "replay", "checkpoint_id": first.checkpoint_id},
        follow=True,
    )
    assert f"Replay queued from checkpoint {first.checkpoint_id}" in (
        response.content.decode()
    )
    replay = job.attempts.get(kind=Attempt.Kind.REPLAY)
    assert replay.checkpoint_id == first.checkpoint_id
    row = AuditLog.objects.get(action="job.replay", resource_id=job.thread_id)
    assert row.actor_id == "bob"


def test_replaying_a_run_that_is_not_finished_says_why_not(
    operator_client: Client,
) -> None:
    job = interrupted().job
    response = operator_client.post(detail(job), {"action_name": "replay"}, follow=True)
    assert "Not done:" in response.content.decode()
    assert not job.attempts.filter(kind=Attempt.Kind.REPLAY).exists()


def test_a_failed_run_links_its_dead_letter(operator_client: Client) -> None:
    dead = dead_letter()
    body = operator_client.get(detail(dead.job)).content.decode()
    assert reverse("admin:runtime_deadletter_change", args=[dead.pk]) in body
    assert "boom: the tool server is down" in body


def test_cancel_selected_action(operator_client: Client) -> None:
    job = make_job("chain")
    operator_client.post(
        RUNS, {"action": "cancel_selected", "_selected_action": [job.pk]}
    )
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


def test_a_staff_user_outside_the_groups_cannot_see_or_cancel(
    viewer_client: Client,
) -> None:
    job = make_job("chain")
    assert viewer_client.get(RUNS).status_code == 403
    assert viewer_client.get(detail(job)).status_code == 403
    assert viewer_client.post(detail(job), {"action_name": "cancel"}).status_code == 403
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_nobody_changes_or_deletes_runs(admin_client: Client) -> None:
    job = make_job("chain")
    delete = reverse("admin:runtime_job_delete", args=[job.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Job.objects.filter(pk=job.pk).exists()


def test_the_run_page_shows_a_changed_graph_definition(operator_client: Client) -> None:
    job = interrupted().job
    assert b'id="definition-changed"' not in operator_client.get(detail(job)).content
    Job.objects.filter(pk=job.pk).update(graph_hash="0" * 64)
    page = operator_client.get(detail(job)).content.decode()
    assert 'id="definition-changed"' in page
    assert "refused" in page


def test_the_detail_shows_the_agent_server_thread_and_its_runs(
    operator_client: Client,
) -> None:
    from django.utils import timezone

    from runtime.models import Run, Thread
    from runtime.services.assistants import system_assistant_id

    job = interrupted().job
    assert 'id="agent-thread"' not in operator_client.get(detail(job)).content.decode()
    now = timezone.now()
    thread = Thread.objects.create(
        thread_id=job.thread_id,
        job=job,
        metadata={"graph_id": "approval", "user": "ann"},
        created_at=now,
        updated_at=now,
    )
    run = Run.objects.create(
        thread=thread,
        assistant_id=system_assistant_id("approval"),
        graph="approval",
        attempt=job.attempts.get(),
        status=Run.Status.INTERRUPTED,
        created_at=now,
        updated_at=now,
    )
    body = operator_client.get(detail(job)).content.decode()
    assert 'id="agent-thread"' in body
    assert 'id="agent-thread-status"' in body
    assert ">interrupted</span>" in body
    assert "&quot;user&quot;: &quot;ann&quot;" in body
    assert str(run.run_id) in body
    assert str(system_assistant_id("approval")) in body
