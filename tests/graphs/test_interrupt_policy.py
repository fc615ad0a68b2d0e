"""An approval policy declared with ``interrupt(value, policy=...)`` travels with
the interrupt: in the paused result, the state, checkpoints and serde."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypedDict

import pytest

from graphs import (
    START,
    Command,
    Interrupt,
    InterruptPolicy,
    StateGraph,
    interrupt,
    serde,
)
from graphs.checkpoint import InMemorySaver

POLICY = InterruptPolicy(
    group="finance",
    timeout=timedelta(minutes=30),
    on_expiry="escalate",
    escalate_to="oris-admin",
    reason_required=True,
    quorum=2,
)


class State(TypedDict, total=False):
    answer: Any


def build(policy: InterruptPolicy | None) -> Any:
    def ask(state: State) -> dict[str, Any]:
        return {"answer": interrupt({"question": "Ship it?"}, policy=policy)}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    return graph.compile(checkpointer=InMemorySaver())


def config() -> dict[str, Any]:
    return {"configurable": {"thread_id": "t"}}


def test_the_policy_is_on_the_paused_interrupt_and_in_the_state() -> None:
    graph = build(POLICY)
    (paused,) = graph.invoke({}, config())["__interrupt__"]
    assert paused.value == {"question": "Ship it?"}
    assert paused.policy == POLICY
    (waiting,) = graph.get_state(config()).interrupts
    assert (waiting.id, waiting.policy) == (paused.id, POLICY)


def test_a_policy_changes_nothing_about_resuming_without_a_runtime() -> None:
    graph = build(POLICY)
    graph.invoke({}, config())
    assert graph.invoke(Command(resume="yes"), config()) == {"answer": "yes"}


def test_an_interrupt_without_a_policy_has_none_and_prints_as_before() -> None:
    (paused,) = build(None).invoke({}, config())["__interrupt__"]
    assert paused.policy is None
    assert repr(paused) == (
        f"Interrupt(value={paused.value!r}, id={paused.id!r}, response_schema=None)"
    )


def test_the_policy_survives_serde_and_is_absent_without_one() -> None:
    with_policy = Interrupt({"q": 1}, "id-1", policy=POLICY)
    assert serde.loads(serde.dumps(with_policy)) == with_policy
    assert serde.loads(serde.dumps(with_policy)).policy == POLICY
    assert "policy" not in serde.dumps(Interrupt("v", "id-2")).decode()


def test_the_policy_is_plain_json_data() -> None:
    data = POLICY.to_json()
    assert data == {
        "assignee": None,
        "group": "finance",
        "timeout": 1800.0,
        "on_expiry": "escalate",
        "escalate_to": "oris-admin",
        "reason_required": True,
        "quorum": 2,
    }
    assert InterruptPolicy.from_json(data) == POLICY
    with pytest.raises(ValueError, match="unknown"):
        InterruptPolicy.from_json({**data, "quorom": 3})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quorum": 0},
        {"quorum": 1.5},
        {"timeout": -1},
        {"on_expiry": "ignore"},
        {"on_expiry": "escalate", "timeout": 60},  # escalate to whom?
        {"on_expiry": "escalate", "escalate_to": "ops"},  # escalate when?
    ],
)
def test_a_policy_that_cannot_be_enforced_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="InterruptPolicy|escalat"):
        InterruptPolicy(**kwargs)
