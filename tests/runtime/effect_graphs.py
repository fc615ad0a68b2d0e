"""Agents whose tool has a real side effect: a row in ``effect_side_effects``
(committed at once, outside the effect ledger), tagged with the effect's key.
Their model is the local OpenAI-protocol server at ``ORIS_TEST_LLM_URL``."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from django.db import connection

import agents
from agents import ChatOpenAI, create_agent, tool
from graphs import START, MessagesState, StateGraph, interrupt
from graphs.messages import AIMessage, ToolMessage

SIDE_TABLE = "effect_side_effects"
EFFECT_GRAPHS = {
    "paying_agent": "tests.runtime.effect_graphs:build_paying_agent",
    "pay_in_one_node": "tests.runtime.effect_graphs:build_pay_in_one_node",
    "apay_in_one_node": "tests.runtime.effect_graphs:build_apay_in_one_node",
    "approved_payment": "tests.runtime.effect_graphs:build_approved_payment",
}


def create_side_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {SIDE_TABLE} "
            "(effect_key varchar(64), amount integer)"
        )


def drop_side_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SIDE_TABLE}")


def side_effects() -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT effect_key, amount FROM {SIDE_TABLE} ORDER BY amount")
        return [(row[0], row[1]) for row in cursor.fetchall()]


def charge(amount: int) -> str:
    """Charge the customer ``amount`` (an external, non-idempotent call).

    Args:
        amount: How much to charge.
    """
    effect = agents.get_effect()
    key = effect.key if effect is not None else None
    with connection.cursor() as cursor:  # autocommit: done, whatever happens next
        cursor.execute(
            f"INSERT INTO {SIDE_TABLE} (effect_key, amount) VALUES (%s, %s)",
            [key, amount],
        )
    return f"charged {amount}"


def model() -> ChatOpenAI:
    return ChatOpenAI(
        "scripted-gpt",
        base_url=os.environ["ORIS_TEST_LLM_URL"],
        api_key="test",
        max_retries=0,
    )


def build_paying_agent() -> Any:
    """model -> tools (charge) -> model, as ``create_agent`` builds it."""
    return create_agent(model(), [tool(charge)], system_prompt="You charge people.")


def build_pay_in_one_node() -> StateGraph:
    """One node doing it all: model, the tool (an ``@agents.effect``), model."""
    chat = model().bind_tools([tool(charge)])
    pay = agents.effect(charge, name="charge")

    def step(state: MessagesState) -> dict[str, Any]:
        messages = list(state["messages"])
        first = chat.invoke(messages)
        results = [
            ToolMessage(pay(**call["args"]), tool_call_id=str(call["id"]))
            for call in first.tool_calls
        ]
        final = chat.invoke([*messages, first, *results])
        return {"messages": [first, *results, final]}

    graph = StateGraph(MessagesState)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    return graph


def build_apay_in_one_node() -> StateGraph:
    """``pay_in_one_node`` in async: ``ainvoke`` and an ``async def`` effect."""
    chat = model().bind_tools([tool(charge)])

    @agents.effect(name="charge")
    async def pay(amount: int) -> str:
        return await asyncio.to_thread(charge, amount)  # the effect's key goes along

    async def step(state: MessagesState) -> dict[str, Any]:
        messages = list(state["messages"])
        first = await chat.ainvoke(messages)
        results = [
            ToolMessage(await pay(**call["args"]), tool_call_id=str(call["id"]))
            for call in first.tool_calls
        ]
        final = await chat.ainvoke([*messages, first, *results])
        return {"messages": [first, *results, final]}

    graph = StateGraph(MessagesState)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    return graph


def build_approved_payment() -> StateGraph:
    """Asks how much (an interrupt), then charges it (an effect); no model."""
    pay = agents.effect(charge, name="charge")

    def step(state: MessagesState) -> dict[str, Any]:
        amount = interrupt("how much?")
        return {"messages": [AIMessage(pay(amount))]}

    graph = StateGraph(MessagesState)
    graph.add_node("step", step)
    graph.add_edge(START, "step")
    return graph


def start(graph: str, steps: int = 1) -> Any:
    """A queued job of ``graph`` asking for ``steps`` charges."""
    from tests.factories import make_job

    return make_job(
        graph, {"messages": [{"role": "user", "content": f"pay steps={steps}"}]}
    )
