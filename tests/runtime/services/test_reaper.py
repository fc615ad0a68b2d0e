"""The reaper forgets a dead worker's deliveries and measures its recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from runtime import metrics
from runtime.models import Attempt, MetricCounter, QueueDoorbell
from runtime.services import claims, reaper
from tests.factories import make_job, queued_doorbells

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("q2_rings")
def test_an_expired_lease_rings_past_deliveries_its_cluster_took_along(
    settings,
) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    make_job()
    claims.attempt_claim(worker_id="dead")
    make_job()  # no ring: the one pending delivery is counted, but died too
    assert len(queued_doorbells()) == 1
    later = timezone.now() + timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS + 3)
    assert reaper.reap(at=later) == 1
    assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))]
    assert QueueDoorbell.objects.get().pending == 1
    assert Attempt.objects.filter(status=Attempt.Status.QUEUED).count() == 2


def test_recovery_latency_runs_from_the_last_heartbeat_to_the_requeue(
    django_capture_on_commit_callbacks,
) -> None:
    make_job()
    lease = claims.attempt_claim(worker_id="dead")
    later = lease.heartbeat_at + timedelta(seconds=settings.ORIS_LEASE_TTL_SECONDS + 3)
    with django_capture_on_commit_callbacks(execute=True):
        reaper.reap(at=later)
    metrics.flush()
    recovery = {
        m.labels: m.value
        for m in MetricCounter.objects.filter(name__startswith="recovery_latency_ms")
    }
    expected = (settings.ORIS_LEASE_TTL_SECONDS + 3) * 1000
    assert recovery[""] == pytest.approx(expected)
    assert recovery["le=60000"] == 1  # the 30 s TTL's bucket, not +Inf
