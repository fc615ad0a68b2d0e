"""A graph that pauses under the approval policy its input declares, and the
helpers the policy tests share."""

from __future__ import annotations

from typing import Any, TypedDict

from graphs import END, START, InterruptPolicy, StateGraph, interrupt
from runtime import registry
from runtime.models import Interrupt
from runtime.worker.drain import worker_drain
from tests.factories import make_job

QUESTION = {"question": "Ship release 1.2?"}
POLICY_GRAPHS = {"policy_review": "tests.runtime.policy_graphs:build_policy_review"}


class PolicyState(TypedDict, total=False):
    policy: dict[str, Any]
    answer: Any


def ask(state: PolicyState) -> dict[str, Any]:
    policy = InterruptPolicy.from_json(state["policy"])
    return {"answer": interrupt(QUESTION, policy=policy)}


def build_policy_review() -> StateGraph:
    graph = StateGraph(PolicyState)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    return graph


def register(settings: Any) -> None:
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **POLICY_GRAPHS}
    registry._cache.clear()


def paused(policy: InterruptPolicy, **job: Any) -> Interrupt:
    """A run of ``policy_review`` paused at its interrupt, under ``policy``."""
    created = make_job("policy_review", input={"policy": policy.to_json()}, **job)
    worker_drain(worker_id="policy-test")
    return Interrupt.objects.get(job=created, status=Interrupt.Status.PENDING)
