"""Round trips to the database on the hot paths, pinned: a test here fails when
submitting a run, claiming an attempt, a delivery or the run endpoint gains a
statement or a commit. Counts, never timings (docs/benchmarks.md gives both).

A round trip is a statement, or the ``BEGIN`` or ``COMMIT`` of an explicit
transaction, or Django's connection health check (a ``SELECT 1`` before the
first use of a persistent connection in each request or django-q2 task, which
bypasses the execute wrappers); a statement outside one commits by itself
(autocommit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from runtime import tasks
from runtime.models import (
    Attempt,
    Checkpoint,
    Job,
    QueueDoorbell,
    Run,
    RunEvent,
    Thread,
)
from runtime.services import agent_runs, claims, threads
from runtime.services.api_keys import api_key_create
from runtime.services.audit import Actor
from runtime.worker.drain import worker_drain
from tests.factories import make_job

pytestmark = pytest.mark.django_db(transaction=True)

POSTGRES = connection.vendor == "postgresql"
# An Agent Server run's creation and its delivery (tests at the end).
# (PostgreSQL: the job's insert needs no savepoint in a run's transaction, the
# run's start and its events commit in one statement each, the reap looks once.)
# (PostgreSQL: a run on a new thread, and a stateless one, is one statement
# outside a transaction, the thread's insert with the job's.)
CREATE_PG, CREATE_LITE = 1, 14  # were 23, 27, then 11, 15, then 10, 14, 8, 14, 4
NEW_PG, NEW_LITE = 1, 14  # were 16, 20, then 11, 15, then 9, 15, then 4
# (issue 11: the claim with no transaction open sends no BEGIN and COMMIT, the
# last claim answers the retry and reap looks, the final checkpoint is written
# by the completion's statement)
DELIVER_PG, DELIVER_LITE = 9, 31  # were 26, 39, then 21, 34, then 20, 33, 14, 32


@dataclass
class Trips:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0  # explicit commits
    health_checks: int = 0

    @property
    def round_trips(self) -> int:
        # SQLite's BEGIN IMMEDIATE is a statement of its own; psycopg's BEGIN is not
        begins = sum(1 for s in self.statements if s[2:].startswith("BEGIN"))
        return (
            len(self.statements) + 2 * self.transactions - begins + self.health_checks
        )

    @property
    def autocommits(self) -> int:
        return sum(1 for s in self.statements if not s.startswith("T "))


@contextmanager
def counted() -> Iterator[Trips]:
    """What the block sends on the default connection."""
    trips = Trips()

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        trips.statements.append(("T " if connection.in_atomic_block else "A ") + sql)
        return execute(sql, *args)

    commit = connection.commit

    def counting_commit() -> None:
        trips.transactions += 1
        commit()

    usable = connection.is_usable

    def counting_usable() -> bool:
        trips.health_checks += 1
        return usable()

    connection.commit = counting_commit  # type: ignore[method-assign]
    connection.is_usable = counting_usable  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(wrapper):
            yield trips
    finally:
        del connection.commit
        del connection.is_usable


def test_submitting_a_run() -> None:
    make_job()  # the first of the queue creates its doorbell row
    with counted() as trips:
        job = make_job()
    if POSTGRES:  # one statement: job, attempt, audit row, ring, q2 task, NOTIFY
        assert trips.round_trips == 1, trips.statements
        assert trips.autocommits == 1
    else:  # BEGIN, the three rows, the ring, the q2 task, COMMIT
        assert trips.round_trips == 7, trips.statements
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert Attempt.objects.filter(job=job, status=Attempt.Status.QUEUED).count() == 1


def test_submitting_a_run_inside_a_transaction() -> None:
    make_job()
    with counted() as trips, transaction.atomic():
        make_job()
    # PostgreSQL: BEGIN, the statement, COMMIT; a taken thread id fails no
    # statement there, so no savepoint is needed to leave the caller's
    # transaction usable (SQLite: one around it)
    assert trips.transactions == 1
    assert trips.round_trips == (3 if POSTGRES else 9), trips.statements


def test_a_claim() -> None:
    make_job()
    with counted() as trips:
        lease = claims.attempt_claim(worker_id="w")
    assert lease is not None
    if POSTGRES:  # attempt, lease and job in one statement (was 3, with BEGIN, COMMIT)
        assert trips.round_trips == 1, trips.statements
        assert trips.autocommits == 1
    else:  # BEGIN IMMEDIATE, attempt, lease, job, the job read, COMMIT
        assert trips.round_trips == 6, trips.statements


def test_a_claim_with_the_previous_outcome_shares_its_commit() -> None:
    make_job()
    make_job()
    with counted() as trips, transaction.atomic():
        claims.attempt_claim(worker_id="w")
        claims.attempt_claim(worker_id="w")
    assert trips.transactions == 1
    assert trips.round_trips == (4 if POSTGRES else 10), trips.statements


@pytest.mark.usefixtures("q2_rings")
def test_a_delivery_of_one_three_node_run() -> None:
    """Answer and claim, three supersteps (the last one's checkpoint in the
    outcome's statement, which commits with the next claim); the next claim
    also answers the reads of the end of a delivery (a retry due soon, the
    reap). Before the run starts: one round trip on PostgreSQL. The claim also
    says whether an Agent Server run executes the attempt, so a /v1 run asks
    nothing more; django-q2 closes old connections before each task, and the
    health check that follows sends nothing on PostgreSQL
    (``oris_site.postgresql``)."""
    make_job()
    QueueDoorbell.objects.update(pending=1)
    with counted() as trips:
        close_old_connections()  # as django-q2's worker does before a task
        assert tasks.run_queue("default") == 1
    assert Job.objects.get().status == Job.Status.COMPLETED
    assert QueueDoorbell.objects.get().pending == 0
    if POSTGRES:
        assert trips.statements[0].startswith("A WITH together AS (UPDATE")
        assert trips.health_checks == 0
        assert len(trips.statements) == 5, trips.statements  # was 8
        assert trips.transactions == 0  # was 2, then 1
        assert trips.round_trips == 5  # was 12, then 7
        assert trips.autocommits == 5
    else:
        assert trips.round_trips == 32, "\n".join(s[:90] for s in trips.statements)


def test_a_notified_drain_of_one_three_node_run() -> None:
    """What a listening worker does when a ring's notification wakes it
    (``runtime/worker/serve.py``): a q2 delivery's drain without the delivery
    (no q2 task to claim, hand over and acknowledge, no answer): the claim,
    three supersteps, the outcome with the claim that finds nothing more."""
    make_job()
    with counted() as trips:
        close_old_connections()  # as the worker does before it drains
        assert worker_drain(reap=True) == 1
    assert Job.objects.get().status == Job.Status.COMPLETED
    if POSTGRES:
        assert trips.health_checks == 0
        assert len(trips.statements) == 5, trips.statements
        assert trips.transactions == 0  # was 1: the outcome commits alone
        assert trips.round_trips == 5  # was 7
        # one commit waits for the WAL flush: the outcome's (the claims and the
        # checkpoints it goes on from skip it, under the default durability)
        flushed = [s for s in trips.statements if "synchronous_commit" not in s]
        assert [s.split()[2] for s in flushed] == ["released"], flushed
    else:
        assert trips.round_trips == 31, "\n".join(s[:90] for s in trips.statements)


ECHO = {"echo_steps": "tests.runtime.agent_server.graphs:build_echo_steps"}


def _agent_run(thread_id: str | None = None) -> Run:
    return agent_runs.run_create(
        actor=Actor.system(),
        assistant_id="echo_steps",
        request={"input": {"n": 1}, "stream_mode": ["values"]},
        thread_id=thread_id,
    )


def test_creating_an_agent_server_run(settings: Any) -> None:
    """A stateless background run: its temporary thread, the thread's job and
    attempt, the run with its first event (``metadata``), the audit rows, the
    doorbell."""
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **ECHO}
    _agent_run()  # the first of the queue creates its doorbell row
    with counted() as trips:
        run = _agent_run()
    assert trips.transactions == (0 if POSTGRES else 1)
    assert trips.round_trips == (CREATE_PG if POSTGRES else CREATE_LITE), "\n".join(
        s[:100] for s in trips.statements
    )
    assert run.attempt_id is not None
    assert list(RunEvent.objects.filter(run=run).values_list("seq", "event")) == [
        (1, "metadata")
    ]


def test_creating_a_run_on_a_new_thread(settings: Any) -> None:
    """``runs.wait(thread_id, ..., if_not_exists="create")`` on a new thread, as
    the benchmark does: the thread's insert, then as a stateless run."""
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **ECHO}
    _agent_run()
    with counted() as trips:
        run = agent_runs.run_create(
            actor=Actor.system(),
            assistant_id="echo_steps",
            request={"input": {"n": 1}, "if_not_exists": "create"},
            thread_id="t-new",
        )
    assert trips.transactions == (0 if POSTGRES else 1)
    assert trips.round_trips == (NEW_PG if POSTGRES else NEW_LITE), "\n".join(
        s[:100] for s in trips.statements
    )
    assert run.attempt_id is not None


@pytest.mark.parametrize("taken", ["thread", "job", "checkpoints"])
def test_a_run_on_a_thread_id_in_use_is_accepted_on_it(
    settings: Any, taken: str
) -> None:
    """``if_not_exists="create"`` on an id that is a thread, a /v1 job's thread
    or a copy's checkpoints: the one-statement acceptance writes nothing, and
    the run is accepted on what exists, once."""
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **ECHO}
    thread_id = f"t-taken-{taken}"
    if taken == "thread":
        threads.thread_ensure(thread_id=thread_id)
    elif taken == "job":
        job = make_job(graph="echo_steps", input={"n": 1}, thread_id=thread_id)
        job.attempts.update(status=Attempt.Status.COMPLETED)  # as if it ran
        Job.objects.filter(pk=job.pk).update(status=Job.Status.COMPLETED)
    else:
        Checkpoint.objects.create(
            thread_id=thread_id,
            checkpoint_id="c1",
            checkpoint={"v": 1, "id": "c1", "channel_values": {}},
            created_at=timezone.now(),
        )
    jobs = Job.objects.filter(thread_id=thread_id).count()
    run = agent_runs.run_create(
        actor=Actor.system(),
        assistant_id="echo_steps",
        request={"input": {"n": 1}, "if_not_exists": "create"},
        thread_id=thread_id,
    )
    assert Run.objects.filter(thread_id=thread_id).count() == 1
    assert list(RunEvent.objects.filter(run=run).values_list("event", flat=True)) == [
        "metadata"
    ]
    assert Job.objects.filter(thread_id=thread_id).count() == max(jobs, 1)
    assert Thread.objects.get(pk=thread_id).job_id == run.attempt.job_id
    kind = Attempt.objects.get(pk=run.attempt_id).kind
    assert kind == (Attempt.Kind.NEXT_RUN if taken == "checkpoints" else kind)


def test_a_delivery_of_an_agent_server_run(settings: Any) -> None:
    """A run on a thread: the claim, the run marked running, its events (the
    ``metadata`` event was written with the run), the one node's superstep,
    the outcome with the run's status, the thread's next run looked for."""
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **ECHO}
    thread = threads.thread_ensure(thread_id="t-round-trips")
    run = _agent_run(thread.thread_id)
    QueueDoorbell.objects.update(pending=1)
    with counted() as trips:
        assert tasks.run_queue("default") == 1
    assert trips.round_trips == (DELIVER_PG if POSTGRES else DELIVER_LITE), "\n".join(
        s[:100] for s in trips.statements
    )
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCESS
    events = list(RunEvent.objects.filter(run=run).values_list("seq", "event"))
    assert events == [(1, "metadata"), (2, "values"), (3, "values")], events
    assert agent_runs.run_output(run) == {"n": 2}


def test_a_keyed_run_request() -> None:
    """``POST /v1/jobs/run`` with an API key, as a server makes it (the request
    starts by closing old connections): the run's one statement, the key's row
    read by the first request kept (``auth.KEY_READ_SECONDS``); no health check
    round trip on PostgreSQL."""
    make_job()
    _, secret = api_key_create(actor=Actor.system(), role="admin", key_id="k-trips")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY_ID="k-trips", HTTP_X_API_KEY=secret)
    client.post("/v1/jobs/run", {"thread_id": "warm", "input": "x"}, format="json")
    with counted() as trips:
        close_old_connections()  # request_started (Django's test client skips it)
        response = client.post(
            "/v1/jobs/run", {"thread_id": "t-trips", "input": "x"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert Job.objects.get(thread_id="t-trips").status == Job.Status.QUEUED
    if POSTGRES:
        assert trips.health_checks == 0
        assert trips.round_trips == 1, trips.statements
    else:  # the submission's transaction
        assert trips.round_trips == 6, "\n".join(s[:90] for s in trips.statements)
