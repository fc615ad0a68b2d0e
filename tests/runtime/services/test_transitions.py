from __future__ import annotations

import pytest

from runtime.errors import InvalidTransition
from runtime.models import Attempt, Interrupt, Job
from runtime.models.interrupts import INTERRUPT_TRANSITIONS
from runtime.models.jobs import ATTEMPT_TRANSITIONS, JOB_TRANSITIONS
from runtime.services.transitions import transition
from tests.factories import make_job

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("table", "choices"),
    [
        (JOB_TRANSITIONS, Job.Status),
        (ATTEMPT_TRANSITIONS, Attempt.Status),
        (INTERRUPT_TRANSITIONS, Interrupt.Status),
    ],
)
def test_every_status_has_a_row_and_targets_are_statuses(table, choices) -> None:
    assert set(table) == set(choices.values)
    assert all(targets <= set(choices.values) for targets in table.values())


def test_cancelled_and_completed_attempts_are_final() -> None:
    assert ATTEMPT_TRANSITIONS[Attempt.Status.COMPLETED] == frozenset()
    assert ATTEMPT_TRANSITIONS[Attempt.Status.CANCELLED] == frozenset()
    # A cancelled job runs again only as the next run of its Agent Server thread.
    assert JOB_TRANSITIONS[Job.Status.CANCELLED] == frozenset({Job.Status.QUEUED})


def test_a_transition_is_a_compare_and_set() -> None:
    job = make_job()
    transition(Job, job.pk, to=Job.Status.RUNNING)
    with pytest.raises(InvalidTransition) as raised:
        transition(Job, job.pk, to=Job.Status.RUNNING, sources=[Job.Status.QUEUED])
    assert raised.value.details == {
        "current_status": "running",
        "requested_status": "running",
    }


def test_a_terminal_job_cannot_move_on_its_own() -> None:
    job = make_job()
    transition(Job, job.pk, to=Job.Status.CANCELLED)
    # (only a new run of its Agent Server thread queues it again, as a replay
    # queues a completed job)
    for target in (Job.Status.RUNNING, Job.Status.COMPLETED, Job.Status.FAILED):
        with pytest.raises(InvalidTransition):
            transition(Job, job.pk, to=target)
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED


def test_a_transition_not_in_the_table_is_refused() -> None:
    attempt = make_job().attempts.get()
    with pytest.raises(InvalidTransition):
        transition(Attempt, attempt.pk, to=Attempt.Status.COMPLETED)  # queued -> done
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.QUEUED
