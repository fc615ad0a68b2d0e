from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.models import Attempt, Job, Lease
from runtime.services import claims, workers
from runtime.worker.drain import worker_drain
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_an_attempt_is_claimed_once() -> None:
    attempt = make_job().attempts.get()
    lease = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w1")
    assert lease is not None
    assert claims.attempt_claim(attempt_id=attempt.pk, worker_id="w2") is None
    assert claims.attempt_claim(worker_id="w2") is None
    attempt.refresh_from_db()
    assert (attempt.status, attempt.dispatches) == ("running", 1)
    assert Job.objects.get().status == Job.Status.RUNNING


def test_claims_follow_priority_then_age() -> None:
    low = make_job(priority=1).attempts.get()
    high = make_job(priority=9).attempts.get()
    older_low_peer = make_job(priority=1).attempts.get()
    order = [claims.attempt_claim(worker_id="w").attempt_id for _ in range(3)]
    assert order == [high.pk, low.pk, older_low_peer.pk]


def test_queues_are_separate() -> None:
    make_job(queue="gpu")
    assert claims.attempt_claim(worker_id="w", queue="default") is None
    assert claims.attempt_claim(worker_id="w", queue="gpu") is not None


def mixed_backlog() -> list[str]:
    """Attempts of mixed priorities, ages and retries; returns their ids in the
    documented claim order (priority, then age, then attempt number)."""
    start = timezone.now() - timedelta(minutes=5)
    made = {}
    for name, priority, age_s in [
        ("new-low", 1, 50),
        ("old-low", 1, 10),
        ("high", 7, 40),
        ("old-high", 7, 20),
        ("retried-old-low", 1, 10),
        ("retried-high", 7, 40),
        ("mid", 4, 30),
    ]:
        job = make_job("echo", priority=priority, at=start + timedelta(seconds=age_s))
        made[name] = job.attempts.get()
    for name in ("retried-old-low", "retried-high"):  # a retry that is due
        Attempt.objects.filter(pk=made[name].pk).update(
            status=Attempt.Status.RETRY_BACKOFF,
            attempt_no=3,
            retry_at=start,
        )
    backing_off = make_job("echo", priority=9, at=start).attempts.get()
    Attempt.objects.filter(pk=backing_off.pk).update(  # not due: never claimed
        status=Attempt.Status.RETRY_BACKOFF,
        retry_at=timezone.now() + timedelta(hours=1),
    )
    # Equal priority and age: the attempt retried most goes first.
    order = ["old-high", "retried-high", "high", "mid", "retried-old-low", "old-low"]
    return [made[name].pk for name in [*order, "new-low"]]


def test_http_poll_and_q2_drain_claim_in_the_same_order() -> None:
    expected = mixed_backlog()
    polled = []
    while (
        decision := workers.worker_poll(
            worker_id="http", max_active_leases=100, tenant_max_active_leases=100
        )
    ).lease:
        polled.append(decision.lease.attempt_id)
    assert polled == expected

    Job.objects.all().delete()
    expected = mixed_backlog()
    assert worker_drain(worker_id="q2", limit=100) == len(expected)
    ran = Attempt.objects.filter(status=Attempt.Status.COMPLETED).order_by("started_at")
    assert [a.pk for a in ran] == expected


def test_a_tenant_at_its_limit_waits_while_others_are_claimed() -> None:
    busy = make_job(priority=9, tenant_id="acme").attempts.get()
    waiting = make_job(priority=9, tenant_id="acme").attempts.get()
    other = make_job(priority=1, tenant_id="globex").attempts.get()
    assert claims.attempt_claim(worker_id="w", tenant_limit=1).attempt_id == busy.pk
    assert claims.attempt_claim(worker_id="w", tenant_limit=1).attempt_id == other.pk
    assert claims.attempt_claim(worker_id="w", tenant_limit=1) is None
    assert claims.tenant_blocked(tenant_limit=1) == "acme"
    assert claims.attempt_claim(worker_id="w", tenant_limit=2).attempt_id == waiting.pk


def test_the_queue_depth_counts_what_can_be_claimed_now() -> None:
    make_job()
    later = make_job().attempts.get()
    Attempt.objects.filter(pk=later.pk).update(
        status=Attempt.Status.RETRY_BACKOFF,
        retry_at=timezone.now() + timedelta(hours=1),
    )
    assert claims.claimable_count() == 1
    assert claims.claimable_count(at=timezone.now() + timedelta(hours=2)) == 2


def _ahead(queue: str | None = None) -> claims.Nothing:
    """What a draining worker's claim sees when nothing is claimable."""
    nothing = claims.drain_claim(worker_id="w", queue=queue)
    assert isinstance(nothing, claims.Nothing), nothing
    return nothing


def test_the_next_retry_is_the_earliest_backoff_of_the_queue() -> None:
    assert _ahead(queue="default").retry_at is None
    soon = timezone.now() + timedelta(seconds=5)
    for queue, retry_at in [
        ("default", soon + timedelta(hours=1)),
        ("default", soon),
        ("gpu", soon - timedelta(seconds=3)),
    ]:
        attempt = make_job(queue=queue).attempts.get()
        Attempt.objects.filter(pk=attempt.pk).update(
            status=Attempt.Status.RETRY_BACKOFF, retry_at=retry_at
        )
    held = make_job().attempts.get()  # running, not in backoff: not a retry
    Attempt.objects.filter(pk=held.pk).update(
        status=Attempt.Status.RUNNING, retry_at=soon - timedelta(hours=1)
    )
    assert _ahead(queue="default").retry_at == soon
    assert _ahead().retry_at == soon - timedelta(seconds=3)
    assert _ahead(queue="gpu").retry_at == soon - timedelta(seconds=3)
    assert _ahead(queue="none").retry_at is None


def test_a_claim_that_finds_nothing_says_whether_the_reaper_has_work() -> None:
    assert _ahead().reap_due is False
    lease = claims.attempt_claim(attempt_id=make_job().attempts.get().pk, worker_id="w")
    assert lease is not None
    assert _ahead().reap_due is False  # a live lease, no timeout
    Lease.objects.filter(pk=lease.pk).update(expires_at=timezone.now())
    assert _ahead().reap_due is True
    Lease.objects.all().delete()
    Attempt.objects.filter(pk=lease.attempt_id).update(timeout_ms=60_000)
    assert _ahead().reap_due is True  # held with a timeout: the reaper looks
    Attempt.objects.filter(pk=lease.attempt_id).update(timeout_ms=None)
    assert _ahead().reap_due is False
