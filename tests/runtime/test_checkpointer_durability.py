"""DjangoSaver under ``async`` durability: on PostgreSQL a checkpoint the run goes
on from, carrying no effect, commits without waiting for the WAL flush; the run's
end, a superstep's effects and every checkpoint under ``sync`` stay durable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction

import graphs
from graphs import END, START, StateGraph
from runtime.checkpointer import DjangoSaver
from runtime.models import Checkpoint
from tests.graphs.effects_conformance import Calls, State
from tests.runtime.test_checkpointer import chain_of

pytestmark = [
    pytest.mark.django_db(transaction=True),  # commits of its own
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL's WAL flush"
    ),
]

Statement = tuple[str, Any]


@contextmanager
def sent() -> Iterator[list[Statement]]:
    """The statements the block sends on the default connection."""
    statements: list[Statement] = []

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, *a: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, *a)

    with connection.execute_wrapper(wrapper):
        yield statements


def commit_settings(statements: list[Statement]) -> list[str]:
    """``synchronous_commit`` in the transaction of each checkpoint write, seen
    by running it again in a transaction that is rolled back."""
    seen = []
    table = Checkpoint._meta.db_table
    for sql, params in statements:
        if f"INSERT INTO {table} " not in sql:
            continue
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                cursor.execute("SHOW synchronous_commit")
                seen.append(cursor.fetchone()[0])
            transaction.set_rollback(True)
    return seen


def run_chain(durability: str, **kwargs: Any) -> list[Statement]:
    graph = chain_of(3).compile(checkpointer=DjangoSaver(), **kwargs)
    config = {"configurable": {"thread_id": f"t-{durability}"}}
    with sent() as statements:
        graph.invoke({"log": [], "constant": ""}, config, durability=durability)
    return statements


def test_async_commits_the_steps_unflushed_and_the_end_durably() -> None:
    statements = run_chain("async")
    # the input, START, n0, n1: the run goes on; n2's checkpoint ends it
    assert commit_settings(statements) == ["off"] * 4 + ["on"]
    assert not any("pg_current_xact_id" in sql for sql, _ in statements)
    assert Checkpoint.objects.filter(thread_id="t-async").count() == 5


def test_sync_commits_every_checkpoint_durably() -> None:
    assert commit_settings(run_chain("sync")) == ["on"] * 5


def test_a_run_that_stops_on_a_checkpoint_it_would_go_on_from_is_flushed() -> None:
    statements = run_chain("async", interrupt_before=["n2"])
    assert commit_settings(statements) == ["off"] * 4
    # before the run returns, one durable commit flushes the WAL behind them
    assert statements[-1][0] == "SELECT pg_current_xact_id()"


def test_a_superstep_that_recorded_an_effect_commits_durably() -> None:
    calls = Calls()
    send = graphs.effect(calls.send, name="send")
    builder = StateGraph(State)
    builder.add_node("work", lambda state: {"out": [send(state["v"])]})
    builder.add_node("after", lambda state: {"out": ["after"]})
    builder.add_edge(START, "work")
    builder.add_edge("work", "after")
    builder.add_edge("after", END)
    graph = builder.compile(checkpointer=DjangoSaver())
    with sent() as statements:
        graph.invoke({"v": "x"}, {"configurable": {"thread_id": "fx"}})
    # the input, START: off; work's (with its effect) and the end: on
    assert commit_settings(statements) == ["off", "off", "on", "on"]


def test_inside_a_callers_transaction_the_commit_is_the_callers() -> None:
    graph = chain_of(2).compile(checkpointer=DjangoSaver())
    with sent() as statements, transaction.atomic():
        graph.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "c"}})
    assert commit_settings(statements) == ["on"] * 4


def test_async_durability_is_the_default_as_in_langgraph() -> None:
    graph = chain_of(2).compile(checkpointer=DjangoSaver())
    with sent() as statements:
        graph.invoke({"log": [], "constant": ""}, {"configurable": {"thread_id": "d"}})
    assert commit_settings(statements) == ["off", "off", "off", "on"]
