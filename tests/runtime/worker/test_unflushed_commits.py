"""A delivery's commits on PostgreSQL: the claim, the run marked running and the
run's events commit without waiting for the WAL flush (a server crash that loses
them only repeats work); the outcome, with the final checkpoint and the next
claim, commits durably, and so makes every commit before it durable too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction

from runtime import tasks
from runtime.models import QueueDoorbell, Run, RunEvent
from runtime.services import agent_runs, threads
from runtime.services.audit import Actor
from runtime.services.statements import UNFLUSHED

pytestmark = [
    pytest.mark.django_db(transaction=True),  # commits of its own
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's WAL flush"
    ),
]

ECHO = {"echo_steps": "tests.runtime.agent_server.graphs:build_echo_steps"}


@contextmanager
def sent() -> Iterator[list[tuple[bool, str]]]:
    """The statements the block sends: (inside a transaction Django opened
    around it, SQL)."""
    statements: list[tuple[bool, str]] = []

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        statements.append((connection.in_atomic_block, sql))
        return execute(sql, *args)

    with connection.execute_wrapper(wrapper):
        yield statements


def test_the_cte_turns_the_flush_off_for_its_transaction_only() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"WITH {UNFLUSHED} SELECT 1 FROM unflushed")
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "off"
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_a_delivery_flushes_only_with_its_outcome(settings: Any) -> None:
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **ECHO}
    thread = threads.thread_ensure(thread_id="t-unflushed")
    run = agent_runs.run_create(
        actor=Actor.system(),
        assistant_id="echo_steps",
        request={"input": {"n": 1}, "stream_mode": ["values"]},
        thread_id=thread.thread_id,
    )
    QueueDoorbell.objects.update(pending=1)
    with sent() as statements:
        assert tasks.run_queue("default") == 1
    writes = [(inside, sql) for inside, sql in statements if sql[:6] != "SELECT"]
    unflushed = [sql for _, sql in writes if UNFLUSHED in sql]
    assert all("CROSS JOIN unflushed" in sql for sql in unflushed)
    claim, start, *events = unflushed
    assert "claimed AS" in claim
    assert "runtime_run" in start
    assert [RunEvent._meta.db_table in sql for sql in events] == [True, True]
    # the outcome's transaction: the final checkpoint with the attempt's end
    # (fenced by the lease's release), the next claim; none skips the flush
    outcome = [sql for inside, sql in writes if inside and UNFLUSHED not in sql]
    assert any("released AS" in sql and "new_headers AS" in sql for sql in outcome)
    assert any("claimed AS" in sql for sql in outcome)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCESS
    assert agent_runs.run_output(run) == {"n": 2}
