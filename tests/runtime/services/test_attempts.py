from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.models import Attempt, DeadLetter, Job
from runtime.services import claims, reaper
from runtime.services.attempts import Outcome, attempt_fail, next_backoff_ms
from tests.factories import make_job

pytestmark = pytest.mark.django_db

ERROR = {"type": "RuntimeError", "message": "boom"}


def test_exponential_backoff_is_capped_as_in_the_reference() -> None:
    policy = {
        "strategy": "exponential",
        "backoff_ms": 100,
        "multiplier": 3.0,
        "max_backoff_ms": 250,
    }
    assert [next_backoff_ms(policy, n) for n in (1, 2, 3)] == [100, 250, 250]


def test_fixed_backoff_is_constant() -> None:
    policy = {"strategy": "fixed", "backoff_ms": 40}
    assert [next_backoff_ms(policy, n) for n in (1, 5)] == [40, 40]


def test_max_retries_n_allows_n_retries_on_the_clock() -> None:
    policy = {
        "strategy": "exponential",
        "backoff_ms": 100,
        "multiplier": 3.0,
        "max_backoff_ms": 250,
        "max_retries": 2,
    }
    job = make_job(retry_policy=policy)
    attempt = job.attempts.get()
    clock = timezone.now()
    seen = []
    for _ in range(3):
        lease = claims.attempt_claim(attempt_id=attempt.pk, worker_id="w", at=clock)
        assert lease is not None, "the retry must be due on the clock"
        outcome = attempt_fail(lease=lease, error=ERROR, at=clock)
        attempt.refresh_from_db()
        seen.append((outcome, attempt.attempt_no, attempt.retry_at))
        if attempt.retry_at:
            too_early = attempt.retry_at - timedelta(milliseconds=1)
            assert (
                claims.attempt_claim(attempt_id=attempt.pk, worker_id="w", at=too_early)
                is None
            )
            clock = attempt.retry_at
    start = seen[0][2] - timedelta(milliseconds=100)
    assert seen == [
        (Outcome.RETRY_SCHEDULED, 2, start + timedelta(milliseconds=100)),
        (Outcome.RETRY_SCHEDULED, 3, start + timedelta(milliseconds=350)),
        (Outcome.FAILED, 3, None),
    ]
    assert [r.backoff_ms for r in attempt.retries.all()] == [100, 250]
    assert Job.objects.get().status == Job.Status.FAILED
    assert DeadLetter.objects.get().attempt_no == 3
    assert attempt.status == Attempt.Status.FAILED


def test_completing_without_the_lease_writes_nothing() -> None:
    from runtime.errors import LeaseLost
    from runtime.services.attempts import attempt_complete

    job = make_job()
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w")
    reaper.reap(at=timezone.now() + timedelta(seconds=31))
    with pytest.raises(LeaseLost):
        attempt_complete(lease=lease, state={"done": True})
    job.refresh_from_db()
    assert (job.status, job.result) == ("queued", None)
    assert job.attempts.get().status == Attempt.Status.QUEUED


def test_completing_records_the_result_and_releases_the_lease() -> None:
    from runtime.models import Lease
    from runtime.services.attempts import attempt_complete

    job = make_job()
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w")
    attempt_complete(lease=lease, state={"done": True})
    job.refresh_from_db()
    assert (job.status, job.result) == ("completed", {"done": True})
    assert job.attempts.get().status == Attempt.Status.COMPLETED
    assert not Lease.objects.exists()


@pytest.mark.django_db(transaction=True)  # the completion commits by itself
def test_a_completion_whose_job_moved_under_its_lease_writes_nothing() -> None:
    """The completion is all-or-nothing on its own: a job that left ``running``
    while its attempt's lease was held (only a bug could do that) fails it, and
    the lease stays held, to recover once it expires."""
    from runtime.errors import InvalidTransition
    from runtime.models import Lease
    from runtime.services.attempts import attempt_complete

    job = make_job()
    lease = claims.attempt_claim(attempt_id=job.attempts.get().pk, worker_id="w")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    with pytest.raises(InvalidTransition):
        attempt_complete(lease=lease, state={"done": True})
    job.refresh_from_db()
    assert (job.status, job.result) == (Job.Status.FAILED, None)
    assert job.attempts.get().status == Attempt.Status.RUNNING
    assert Lease.objects.filter(pk=lease.pk, worker_id="w").exists()
