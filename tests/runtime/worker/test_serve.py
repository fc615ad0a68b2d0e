"""An idle q2 worker's task queue that serves notified attempts (PostgreSQL), in
process: its ``get`` runs work until a q2 task (here q2's ``"STOP"``) comes.

The fallback drain is ``IDLE_POLL`` seconds away, past every wait here: a job
that runs was found by the drain at start or announced by its notification.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction
from django.utils import timezone

from runtime import registry
from runtime.models import Attempt, Job
from runtime.services.jobs import job_enqueue_first
from runtime.worker.serve import ServingQueue
from tests.factories import make_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

IDLE_POLL = 120


def beside(action: Callable[[], None]) -> threading.Thread:
    """Runs ``action`` on a thread with a database connection of its own."""

    def run() -> None:
        try:
            action()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def status_of(job: Job) -> str:
    return Job.objects.get(pk=job.pk).status


def stop_when(queue: multiprocessing.Queue, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + IDLE_POLL / 2
    while not done() and time.monotonic() < deadline:
        time.sleep(0.05)
    queue.put("STOP")


@pytest.fixture
def serving(settings) -> Iterator[tuple[multiprocessing.Queue, ServingQueue]]:
    settings.ORIS_Q_IDLE_POLL_SECONDS = IDLE_POLL
    tasks: multiprocessing.Queue = multiprocessing.Queue()
    timer = multiprocessing.Value("f", -1)
    queue = ServingQueue(tasks, timer, None)
    yield tasks, queue
    queue.close()


def test_it_drains_when_it_starts_listening_then_hands_over_a_q2_task(
    serving,
) -> None:
    tasks, queue = serving
    waiting = make_job()  # before the worker listens: no notification reaches it
    stopper = beside(
        lambda: stop_when(tasks, lambda: status_of(waiting) == Job.Status.COMPLETED)
    )
    assert queue.get() == "STOP"
    stopper.join()
    assert status_of(waiting) == Job.Status.COMPLETED
    assert queue.timer.value == -1  # idle again for q2's guard


def test_a_notification_wakes_it(serving) -> None:
    tasks, queue = serving
    jobs: list[Job] = []

    def submit_then_stop() -> None:
        while queue.next_look == 0:  # until it listens and has drained (nothing)
            time.sleep(0.01)
        jobs.append(make_job())
        stop_when(tasks, lambda: status_of(jobs[0]) == Job.Status.COMPLETED)

    thread = beside(submit_then_stop)
    assert queue.get() == "STOP"
    thread.join()
    assert status_of(jobs[0]) == Job.Status.COMPLETED
    assert queue.listener is not None


@pytest.mark.parametrize("submit", ["job_create", "job_enqueue_first"])
def test_a_submitter_that_does_not_listen_still_wakes_it(
    serving, settings, submit: str
) -> None:
    """A web process with ``ORIS_Q_LISTEN`` off rings q2 tasks; on PostgreSQL
    each ring also notifies the listening workers, which do not wait for their
    fallback poll (``IDLE_POLL``, past the wait here)."""
    tasks, queue = serving
    settings.ORIS_Q_LISTEN = False  # the submitter's; the queue listens anyway
    jobs: list[Job] = []

    def submit_then_stop() -> None:
        while queue.next_look == 0:  # until it listens and has drained (nothing)
            time.sleep(0.01)
        if submit == "job_create":
            jobs.append(make_job())
        else:  # a job another service wrote (a fork): its attempt's own ring
            now = timezone.now()
            with transaction.atomic():
                job = Job.objects.create(
                    thread_id="written-elsewhere",
                    graph="chain",
                    graph_hash=registry.graph_get("chain").definition_hash,
                    input={},
                    created_at=now,
                    updated_at=now,
                )
                job_enqueue_first(job, kind=Attempt.Kind.RUN, at=now)
            jobs.append(job)
        stop_when(tasks, lambda: status_of(jobs[0]) == Job.Status.COMPLETED)

    thread = beside(submit_then_stop)
    assert queue.get() == "STOP"
    thread.join()
    assert status_of(jobs[0]) == Job.Status.COMPLETED
