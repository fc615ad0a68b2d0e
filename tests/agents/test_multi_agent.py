"""agents/multi_agent.py: router, handoffs (swarm) and supervisor."""

from __future__ import annotations

import pytest

from agents.agent import create_agent
from agents.chat_models import ScriptedChatModel
from agents.errors import AgentError
from agents.multi_agent import (
    create_handoff_tool,
    create_router,
    create_supervisor,
    create_swarm,
    final_text,
    usage_of,
)
from agents.tools import tool
from graphs import Command
from graphs.checkpoint import InMemorySaver
from graphs.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage


def echo_agent(label):
    return create_agent(
        ScriptedChatModel(
            [], when_exhausted=lambda msgs: f"{label} handled: {msgs[-1].text}"
        ),
        [],
        name=label,
    )


def test_keyword_router_picks_the_first_matching_agent():
    router = create_router(
        {"billing": echo_agent("billing"), "tech": echo_agent("tech")},
        keywords={"billing": ["invoice", "refund"], "tech": ["error", "crash"]},
    )
    out = router.invoke({"messages": [HumanMessage("My app shows an ERROR")]})
    assert final_text(out) == "tech handled: My app shows an ERROR"
    assert out["active_agent"] == "tech"
    assert out["routing_history"] == ["tech"]
    assert out["messages"][-1].name == "tech"


def test_llm_router_asks_the_model_and_falls_back_to_default():
    routing_model = ScriptedChatModel(
        [],
        when_exhausted=lambda msgs: "billing" if "refund" in msgs[-1].text else "none",
    )
    router = create_router(
        {"billing": echo_agent("billing"), "general": echo_agent("general")},
        model=routing_model,
        descriptions={"billing": "Payments and refunds", "general": "Anything else"},
        default="general",
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": "r"}}
    out = router.invoke({"messages": [("user", "I want a refund")]}, cfg)
    assert out["active_agent"] == "billing"
    prompt = routing_model.calls[0]
    assert isinstance(prompt[0], SystemMessage)
    assert "1. billing: Payments and refunds" in prompt[0].text
    out = router.invoke({"messages": [("user", "tell me a joke")]}, cfg)
    assert out["routing_history"] == ["billing", "general"]
    assert final_text(out) == "general handled: tell me a joke"


def test_router_without_match_or_default_fails():
    router = create_router({"a": echo_agent("a")}, keywords={"a": ["apple"]})
    with pytest.raises(AgentError, match="No suitable agent"):
        router.invoke({"messages": [("user", "banana")]})


def test_router_propagates_an_agent_approval_and_resumes():
    effects = []

    @tool
    def refund(amount: int) -> str:
        """Refund money.

        Args:
            amount: Amount in cents.
        """
        effects.append(amount)
        return "refunded"

    billing = create_agent(
        ScriptedChatModel(
            [
                {"tool_calls": [{"name": "refund", "args": {"amount": 500}}]},
                "Refund done.",
            ]
        ),
        [refund],
        interrupt_on={"refund": True},
        name="billing",
    )
    router = create_router(
        {"billing": billing},
        keywords={"billing": ["refund"]},
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": "approve-in-sub"}}
    out = router.invoke({"messages": [("user", "refund me")]}, cfg)
    assert out["__interrupt__"][0].value["action_requests"][0]["name"] == "refund"
    assert effects == []
    out = router.invoke(Command(resume={"decisions": [{"type": "approve"}]}), cfg)
    assert effects == [500]
    assert final_text(out) == "Refund done."


def test_agents_hand_off_to_each_other():
    alice = create_agent(
        ScriptedChatModel(
            [
                {
                    "tool_calls": [
                        {
                            "name": "transfer_to_bob",
                            "args": {"message": "math question"},
                        }
                    ]
                }
            ],
            when_exhausted="alice again",
        ),
        [create_handoff_tool("bob", description="Bob does math.")],
        name="alice",
    )
    bob = create_agent(
        ScriptedChatModel(
            [], when_exhausted=lambda msgs: f"bob answers after {msgs[-1].text!r}"
        ),
        [create_handoff_tool("alice")],
        name="bob",
    )
    swarm = create_swarm(
        {"alice": alice, "bob": bob},
        default_active_agent="alice",
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": "s"}}
    out = swarm.invoke({"messages": [("user", "what is 2+2?")]}, cfg)
    assert out["active_agent"] == "bob"
    kinds = [(type(m).__name__, m.name) for m in out["messages"]]
    assert kinds == [
        ("HumanMessage", None),
        ("AIMessage", "alice"),
        ("ToolMessage", "transfer_to_bob"),
        ("AIMessage", "bob"),
    ]
    handoff = out["messages"][2]
    assert isinstance(handoff, ToolMessage)
    assert handoff.text == "Handing off control to agent: bob (math question)"
    assert out["messages"][-1].text.startswith("bob answers after 'Handing off")
    # The next turn goes straight to the active agent.
    out = swarm.invoke({"messages": [("user", "thanks")]}, cfg)
    assert out["messages"][-1].name == "bob"


def test_supervisor_delegates_to_subagents_as_tools():
    researcher = echo_agent("researcher")
    writer = echo_agent("writer")
    supervisor_model = ScriptedChatModel(
        [
            {
                "tool_calls": [
                    {"name": "researcher", "args": {"input": "find facts about owls"}},
                    {"name": "writer", "args": {"input": "write a haiku"}},
                ]
            },
            lambda msgs: " / ".join(m.text for m in msgs if isinstance(m, ToolMessage)),
        ]
    )
    supervisor = create_supervisor(
        supervisor_model,
        {
            "researcher": (researcher, "Finds facts."),
            "writer": (writer, "Writes prose."),
        },
    )
    out = supervisor.invoke({"messages": [("user", "owl haiku please")]})
    assert sorted(final_text(out).split(" / ")) == [
        "researcher handled: find facts about owls",
        "writer handled: write a haiku",
    ]
    assert "- researcher: Finds facts." in supervisor_model.calls[0][0].text
    assert usage_of(out["messages"])["total_tokens"] > 0


def test_subagent_needing_approval_is_reported_as_a_tool_error():
    @tool
    def danger() -> str:
        """Do something risky."""
        return "boom"

    risky = create_agent(
        ScriptedChatModel([{"tool_calls": [{"name": "danger", "args": {}}]}]),
        [danger],
        interrupt_on={"danger": True},
        checkpointer=InMemorySaver(),
    )
    supervisor = create_supervisor(
        ScriptedChatModel(
            [{"tool_calls": [{"name": "risky", "args": {"input": "go"}}]}, "gave up"]
        ),
        {"risky": (risky, "Risky things.")},
    )
    out = supervisor.invoke({"messages": [("user", "go")]})
    errors = [m for m in out["messages"] if isinstance(m, ToolMessage)]
    assert errors[0].status == "error"
    assert "asked for human input" in errors[0].text
    assert isinstance(out["messages"][-1], AIMessage)
