from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.errors import JobCancelled, LeaseLost
from runtime.models import Attempt, DeadLetter, Job, Lease
from runtime.services import claims, leases, reaper
from runtime.services.jobs import job_cancel
from tests.factories import ALICE, make_job

pytestmark = pytest.mark.django_db


def test_an_expired_lease_is_reaped_and_the_attempt_requeued() -> None:
    attempt = make_job().attempts.get()
    lease = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w1")
    later = timezone.now() + timedelta(seconds=31)
    assert reaper.reap(at=later) == 1
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.QUEUED
    assert Job.objects.get().status == Job.Status.QUEUED
    with pytest.raises(LeaseLost):
        leases.lease_guard(lease=lease)
    again = claims.attempt_claim(worker_id="w2", at=later)
    assert again.attempt_id == attempt.pk
    assert again.attempt.dispatches == 2


def test_the_guard_extends_a_live_lease() -> None:
    attempt = make_job().attempts.get()
    lease = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w1")
    soon = timezone.now() + timedelta(seconds=20)
    leases.lease_guard(lease=lease, at=soon)
    assert Lease.objects.get().expires_at > soon + timedelta(seconds=29)
    assert reaper.reap(at=soon + timedelta(seconds=15)) == 0


def test_the_guard_reports_a_cancelled_job() -> None:
    job = make_job()
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    job_cancel(job=job, actor=ALICE)
    with pytest.raises(JobCancelled):
        leases.lease_guard(lease=lease)


@pytest.mark.parametrize(
    ("policy", "attempt_status", "job_status", "dead_letters"),
    [("failed", "failed", "failed", 1), ("cancelled", "cancelled", "cancelled", 0)],
)
def test_a_timed_out_attempt_ends_with_its_policy(
    policy: str, attempt_status: str, job_status: str, dead_letters: int
) -> None:
    job = make_job(timeout_policy={"timeout_ms": 1000, "on_timeout_status": policy})
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w1")
    assert reaper.reap(at=timezone.now() + timedelta(seconds=2)) == 1
    job.refresh_from_db()
    assert job.status == job_status
    assert job.attempts.get().status == attempt_status
    assert DeadLetter.objects.filter(reason="execution_timeout").count() == dead_letters
    with pytest.raises(LeaseLost):
        leases.lease_guard(lease=lease)


def test_a_heartbeat_extends_and_versions_the_lease() -> None:
    attempt = make_job().attempts.get()
    lease = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w1")
    soon = timezone.now() + timedelta(seconds=10)
    beat = leases.lease_heartbeat(
        lease_id=lease.pk, worker_id="w1", ttl_seconds=60, at=soon
    )
    assert beat.version == lease.version + 1
    assert beat.expires_at == soon + timedelta(seconds=60)


def test_a_heartbeat_refuses_another_owner_and_an_expired_lease() -> None:
    attempt = make_job().attempts.get()
    lease = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w1")
    with pytest.raises(LeaseLost) as raised:
        leases.lease_heartbeat(lease_id=lease.pk, worker_id="w2")
    assert raised.value.details == {
        "expected_worker_id": "w1",
        "actual_worker_id": "w2",
    }
    with pytest.raises(LeaseLost, match="expired"):
        leases.lease_heartbeat(
            lease_id=lease.pk,
            worker_id="w1",
            at=timezone.now() + timedelta(seconds=31),
        )
    with pytest.raises(LeaseLost):
        leases.lease_heartbeat(lease_id="lease-missing", worker_id="w1")


def test_a_claim_replaces_a_stale_lease_left_on_a_queued_attempt() -> None:
    attempt = make_job().attempts.get()
    stale = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w1")
    Attempt.objects.filter(pk=attempt.pk).update(status=Attempt.Status.QUEUED)
    fresh = claims.attempt_claim(worker_id="w2")
    assert fresh.attempt_id == attempt.pk
    assert fresh.pk != stale.pk
    assert list(Lease.objects.values_list("pk", "worker_id")) == [(fresh.pk, "w2")]
    with pytest.raises(LeaseLost):
        leases.lease_guard(lease=stale)
    leases.lease_guard(lease=fresh)
