"""Failed supersteps keep finished siblings' writes; RetryPolicy retries nodes."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any

import pytest

from graphs import START, RetryPolicy, StateGraph
from graphs.checkpoint import InMemorySaver

from .conftest import Counter


def test_a_failed_superstep_keeps_siblings_writes_and_does_not_rerun_them(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    calls = Tally[str]()
    broken = {"yes": True}

    def ok(state: Counter) -> dict[str, Any]:
        calls["ok"] += 1
        return {"log": ["ok"]}

    def flaky(state: Counter) -> dict[str, Any]:
        calls["flaky"] += 1
        if broken["yes"]:
            raise ValueError("boom")
        return {"log": ["flaky"]}

    g = StateGraph(Counter)
    g.add_node("ok", ok)
    g.add_node("flaky", flaky)
    g.add_edge(START, "ok")
    g.add_edge(START, "flaky")
    graph = g.compile(checkpointer=memory)
    with pytest.raises(ValueError, match="boom"):
        graph.invoke({"n": 0}, thread)
    snapshot = graph.get_state(thread)
    assert snapshot.next == ("flaky",)
    [failed] = [t for t in snapshot.tasks if t.name == "flaky"]
    assert failed.error == "ValueError('boom')"  # as LangGraph shows it
    broken["yes"] = False
    assert graph.invoke(None, thread)["log"] == ["flaky", "ok"]  # by task path
    assert calls == {"ok": 1, "flaky": 2}


def test_pending_writes_are_stored_only_when_a_superstep_fails(
    memory: InMemorySaver, thread: dict[str, Any]
) -> None:
    g = StateGraph(Counter)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.compile(checkpointer=memory).invoke({"n": 0}, thread)
    assert all(not t.pending_writes for t in memory.list(thread))


def test_retry_policy_retries_until_success() -> None:
    attempts = Tally[str]()

    def flaky(state: Counter) -> dict[str, Any]:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ConnectionError("network")
        return {"n": attempts["n"]}

    g = StateGraph(Counter)
    policy = RetryPolicy(initial_interval=0.001, jitter=False, max_attempts=3)
    g.add_node("flaky", flaky, retry_policy=policy)
    g.add_edge(START, "flaky")
    result = g.compile().run({"n": 0})
    assert result.status == "completed"
    assert result.state["n"] == 3
    retries = [e for e in result.trace if e["kind"] == "retry"]
    assert [e["attempt"] for e in retries] == [1, 2]


def test_retry_policy_gives_up_after_max_attempts() -> None:
    attempts = Tally[str]()

    def down(state: Counter) -> dict[str, Any]:
        attempts["n"] += 1
        raise ConnectionError("down")

    g = StateGraph(Counter)
    g.add_node("down", down, retry_policy=RetryPolicy(initial_interval=0, jitter=False))
    g.add_edge(START, "down")
    result = g.compile().run({"n": 0})
    assert result.status == "failed"
    assert isinstance(result.error, ConnectionError)
    assert attempts["n"] == 3


def test_retry_policy_only_retries_matching_exceptions() -> None:
    attempts = Tally[str]()

    def bad(state: Counter) -> dict[str, Any]:
        attempts["n"] += 1
        raise KeyError("programming error")

    g = StateGraph(Counter)
    policy = RetryPolicy(initial_interval=0, retry_on=ConnectionError)
    g.add_node("bad", bad, retry_policy=policy)
    g.add_edge(START, "bad")
    assert g.compile().run({"n": 0}).status == "failed"
    assert attempts["n"] == 1


def test_retry_policy_accepts_a_predicate_and_the_default_skips_value_errors() -> None:
    assert RetryPolicy(retry_on=lambda e: "again" in str(e)).should_retry(
        RuntimeError("again")
    )
    assert not RetryPolicy().should_retry(ValueError("bug"))
    assert RetryPolicy().should_retry(ConnectionError("net"))
    policy = RetryPolicy(initial_interval=1, backoff_factor=2, max_interval=3)
    assert [policy.interval(i) for i in (1, 2, 3)] == [1, 2, 3]


def test_an_error_row_stored_before_the_repr_was_kept_still_reads() -> None:
    from graphs.errors import error_row, shown_error

    old = {"type": "ValueError", "message": "boom"}
    assert shown_error(old) == "ValueError('boom')"
    assert shown_error(error_row(KeyError("k"))) == "KeyError('k')"
