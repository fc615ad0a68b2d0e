from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from runtime import tasks
from runtime.models import Job, QueueDoorbell
from runtime.services import dispatch
from runtime.worker.drain import worker_drain
from tests.factories import make_job, queued_doorbells

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("q2_rings")]


def test_a_burst_of_runs_rings_once_per_q2_worker(settings) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    for _ in range(5):
        make_job()
    assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))] * 2
    assert QueueDoorbell.objects.get(queue="default").pending == 2


def test_each_ring_enqueues_a_task_of_its_own(settings) -> None:
    """Rings that did not ring leave their signed task to the next one: every
    task in the broker is still a task of its own."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    ids = []
    for _ in range(3):
        for _ in range(4):  # two ring, two find both deliveries pending
            make_job()
        broker = get_broker()
        while batch := broker.dequeue():
            ids += [SignedPackage.loads(pack)["id"] for _, pack in batch]
        QueueDoorbell.objects.update(pending=0)  # both deliveries answered
    assert len(ids) == 6
    assert len(set(ids)) == 6


def broker_packages() -> list[str]:
    broker, packages = get_broker(), []
    while batch := broker.dequeue():
        packages += [pack for _, pack in batch]
    return packages


@pytest.mark.postgres
def test_a_package_a_ring_did_not_use_serves_the_next_while_fresh(
    settings, monkeypatch
) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    make_job()  # rings
    make_job()  # a delivery is pending: its signed task is kept
    kept = dispatch._packages["default"][1]
    QueueDoorbell.objects.update(pending=0)
    make_job()  # rings with the kept task
    assert broker_packages()[1:] == [kept]
    make_job()  # kept again; too old for the next ring
    stale = dispatch._packages["default"][1]
    monkeypatch.setattr(dispatch, "PACKAGE_REUSE_SECONDS", 0.0)
    QueueDoorbell.objects.update(pending=0)
    make_job()
    [fresh] = broker_packages()
    assert fresh != stale
    assert SignedPackage.loads(fresh)["func"] == dispatch.RUN_QUEUE


def test_one_delivery_drains_the_queue_and_a_duplicate_does_nothing(settings) -> None:
    for _ in range(3):
        make_job()
    assert tasks.run_queue("default") == 3
    assert set(Job.objects.values_list("status", flat=True)) == {"completed"}
    assert tasks.run_queue("default") == 0
    assert QueueDoorbell.objects.get(queue="default").pending == 0


def test_a_delivery_that_stops_at_the_limit_rings_again(settings) -> None:
    settings.ORIS_DRAIN_LIMIT = 2
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    for _ in range(3):
        make_job()
    queued_doorbells()  # consume the first ring
    assert tasks.run_queue("default") == 2
    assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))]
    assert tasks.run_queue("default") == 1


def test_queues_ring_separately() -> None:
    make_job(queue="gpu")
    make_job()
    rings = sorted(args for _, args in queued_doorbells())
    assert rings == [("default",), ("gpu",)]
    assert tasks.run_queue("gpu") == 1
    assert Job.objects.get(queue="gpu").status == "completed"
    assert Job.objects.get(queue="default").status == "queued"


def test_a_lost_delivery_stops_suppressing_rings_after_a_while(settings) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 1}
    now = timezone.now()
    assert dispatch.dispatch_ring(queue="q", at=now)
    assert not dispatch.dispatch_ring(queue="q", at=now + timedelta(seconds=10))
    assert dispatch.dispatch_ring(queue="q", at=now + timedelta(seconds=61))
    assert QueueDoorbell.objects.get(queue="q").pending == 1


def test_the_sweep_runs_what_no_doorbell_announced() -> None:
    job = make_job()
    QueueDoorbell.objects.all().delete()
    queued_doorbells()
    assert tasks.reap() == 1
    job.refresh_from_db()
    assert job.status == "completed"


def test_a_delivery_with_nothing_to_claim_still_answers() -> None:
    with transaction.atomic():
        assert dispatch.dispatch_ring(queue="q")
    assert QueueDoorbell.objects.get(queue="q").pending == 1
    assert tasks.run_queue("q") == 0
    assert QueueDoorbell.objects.get(queue="q").pending == 0


@pytest.mark.django_db(transaction=True)
def test_a_delivery_answers_in_its_first_claims_commit(settings) -> None:
    """The answer is a write of the first claim: the claim's rollback (here: its
    statement fails) takes the answer with it, so no pending count is lost."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    make_job()
    make_job()
    assert QueueDoorbell.objects.get(queue="default").pending == 2
    bad = (
        "UPDATE runtime_queuedoorbell SET pending = pending - 1"
        " WHERE queue = %(answered_queue)s AND no_such_column",
        {"answered_queue": "default"},
    )
    with pytest.raises(DatabaseError):
        worker_drain(queue="default", worker_id="w", answer=bad)
    assert QueueDoorbell.objects.get(queue="default").pending == 2
    assert Job.objects.filter(status="queued").count() == 2
    assert tasks.run_queue("default") == 2
    assert QueueDoorbell.objects.get(queue="default").pending == 1
