"""agents: chat models, tools, and agent graphs built on ``graphs``.

::

    from agents import create_agent, init_chat_model, tool
    from graphs.checkpoint import InMemorySaver

    agent = create_agent(
        "openai:gpt-4o-mini",
        [my_tool],
        interrupt_on={"my_tool": True},
        checkpointer=InMemorySaver(),
    )

``agents`` imports ``graphs``, the standard library and httpx only; configuration
arrives as arguments or the providers' environment variables.
"""

from __future__ import annotations

from agents.agent import MAX_ITERATIONS_REACHED, AgentState, create_agent
from agents.approval import ApprovalPolicy, Decision, HITLRequest
from agents.chat_models import (
    AzureChatOpenAI,
    BaseChatModel,
    ChatAnthropic,
    ChatModel,
    ChatOllama,
    ChatOpenAI,
    Pricing,
    RetryPolicy,
    ScriptedChatModel,
    init_chat_model,
)
from agents.deep import DeepAgentState, SubAgent, create_deep_agent
from agents.effects import EffectOptions, effect, get_effect
from agents.errors import (
    AgentError,
    ApprovalError,
    ProviderError,
    StructuredOutputError,
    ToolError,
    ToolNotFoundError,
)
from agents.multi_agent import (
    MultiAgentState,
    agent_as_tool,
    create_handoff_tool,
    create_router,
    create_supervisor,
    create_swarm,
    final_text,
    usage_of,
)
from agents.skills import Skill, load_skills
from agents.tools import (
    BaseTool,
    CalculatorTool,
    CurrentTimeTool,
    HttpFetchTool,
    Tool,
    ToolRuntime,
    Workspace,
    WriteTodosTool,
    filesystem_tools,
    tool,
)

__all__ = [
    "MAX_ITERATIONS_REACHED",
    "AgentError",
    "AgentState",
    "ApprovalError",
    "ApprovalPolicy",
    "AzureChatOpenAI",
    "BaseChatModel",
    "BaseTool",
    "CalculatorTool",
    "ChatAnthropic",
    "ChatModel",
    "ChatOllama",
    "ChatOpenAI",
    "CurrentTimeTool",
    "Decision",
    "DeepAgentState",
    "EffectOptions",
    "HITLRequest",
    "HttpFetchTool",
    "MultiAgentState",
    "Pricing",
    "ProviderError",
    "RetryPolicy",
    "ScriptedChatModel",
    "Skill",
    "StructuredOutputError",
    "SubAgent",
    "Tool",
    "ToolError",
    "ToolNotFoundError",
    "ToolRuntime",
    "Workspace",
    "WriteTodosTool",
    "agent_as_tool",
    "create_agent",
    "effect",
    "create_deep_agent",
    "create_handoff_tool",
    "create_router",
    "create_supervisor",
    "create_swarm",
    "filesystem_tools",
    "final_text",
    "get_effect",
    "init_chat_model",
    "load_skills",
    "tool",
    "usage_of",
]
