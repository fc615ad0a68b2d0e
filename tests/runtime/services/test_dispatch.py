from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from runtime import tasks
from runtime.models import Job, QueueDoorbell
from runtime.services import dispatch
from tests.factories import make_job, queued_doorbells

pytestmark = pytest.mark.django_db


def test_a_burst_of_runs_rings_once_per_q2_worker(settings) -> None:
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "workers": 2}
    for _ in range(5):
        make_job()
    assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))] * 2
    assert QueueDoorbell.objects.get(queue="default").pending == 2


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


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_answer_of_its_own_counts_down_without_touching_the_session() -> None:
    with transaction.atomic():
        assert dispatch.dispatch_ring(queue="q")
    dispatch.dispatch_answer(queue="q")  # its own transaction: commits unflushed
    assert QueueDoorbell.objects.get(queue="q").pending == 0
    assert synchronous_commit() == "on"


@pytest.mark.postgres
def test_an_answer_inside_a_transaction_leaves_its_commit_durable() -> None:
    dispatch.dispatch_ring(queue="q")
    dispatch.dispatch_answer(queue="q")
    assert QueueDoorbell.objects.get(queue="q").pending == 0
    assert synchronous_commit() == "on"
