"""Multi-agent graphs: a router, handoffs between peers, and a supervisor.

- :func:`create_router` picks one agent per user turn, by keywords or by asking a
  model, and runs it as a subgraph (so its approvals pause the whole graph).
- :func:`create_handoff_tool` + :func:`create_swarm`: agents pass control to each
  other with ``Command(goto=..., graph=Command.PARENT)``; the active agent is kept
  in the state, so the next user turn goes to whoever spoke last.
- :func:`create_supervisor`: a model that delegates to subagents exposed as tools
  (:func:`agent_as_tool`), each run in a fresh context.
"""

from __future__ import annotations

import operator
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypedDict

from agents.agent import create_agent
from agents.chat_models import BaseChatModel, init_chat_model
from agents.errors import AgentError, ToolError
from agents.tools.base import BaseTool, ToolRuntime
from graphs import END, START, Command, StateGraph
from graphs.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    UsageMetadata,
    add_messages,
    add_usage,
)

__all__ = [
    "MultiAgentState",
    "agent_as_tool",
    "create_handoff_tool",
    "create_router",
    "create_supervisor",
    "create_swarm",
    "final_text",
    "usage_of",
]


class MultiAgentState(TypedDict, total=False):
    """State of router and swarm graphs.

    Attributes:
        messages: The shared conversation.
        active_agent: The agent that handled the latest turn.
        routing_history: Every routing decision, in order.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    active_agent: str
    routing_history: Annotated[list[str], operator.add]


def final_text(state: Mapping[str, Any]) -> str:
    """Text of the last AI message in ``state["messages"]`` (``""`` if none)."""
    for message in reversed(state.get("messages") or []):
        if isinstance(message, AIMessage):
            return message.text
    return ""


def usage_of(messages: Sequence[BaseMessage]) -> UsageMetadata | None:
    """Token usage summed over the AI messages of a conversation."""
    total: UsageMetadata | None = None
    for message in messages:
        if isinstance(message, AIMessage):
            total = add_usage(total, message.usage_metadata)
    return total


def _last_human(messages: Sequence[BaseMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


ROUTER_PROMPT = (
    "You route a user's request to the one agent best suited to handle it.\n"
    "Agents:\n{agents}\n\n"
    "Answer with only the agent's name, or 'none' if no agent fits."
)


def create_router(
    agents: Mapping[str, Any],
    *,
    model: str | BaseChatModel | None = None,
    descriptions: Mapping[str, str] | None = None,
    keywords: Mapping[str, Sequence[str]] | None = None,
    default: str | None = None,
    checkpointer: Any = None,
    name: str = "router",
) -> Any:
    """Route each user turn to one agent.

    Keywords are tried first (first agent, in ``agents`` order, with a keyword that
    is a case-insensitive substring of the last user message), then the model (it
    sees ``"{i}. {name}: {description}"`` lines and answers a name or ``none``),
    then ``default``.

    Args:
        agents: Name to compiled agent graph (anything with a ``messages`` key).
        model: Chat model or ``"provider:model"`` for LLM routing.
        descriptions: Name to description, shown to the routing model.
        keywords: Name to keywords for keyword routing.
        default: Agent used when nothing matches.
        checkpointer: Saver for durable threads.
        name: Graph name.

    Returns:
        The compiled router graph (state: :class:`MultiAgentState`).

    Raises:
        AgentError: At run time, when nothing matches and there is no default.
    """
    names = list(agents)
    chat = init_chat_model(model) if model is not None else None
    descriptions = dict(descriptions or {})
    keywords = {k: [w.lower() for w in v] for k, v in (keywords or {}).items()}

    def by_keyword(text: str) -> str | None:
        lowered = text.lower()
        for agent in names:
            if any(word in lowered for word in keywords.get(agent, ())):
                return agent
        return None

    def by_model(text: str) -> str | None:
        if chat is None:
            return None
        listing = "\n".join(
            f"{i}. {agent}: {descriptions.get(agent, '')}"
            for i, agent in enumerate(names, 1)
        )
        reply = chat.invoke(
            [SystemMessage(ROUTER_PROMPT.format(agents=listing)), HumanMessage(text)]
        )
        answer = reply.text.strip().lower()
        for agent in sorted(names, key=len, reverse=True):
            if agent.lower() in answer:
                return agent
        return None

    def route(state: dict[str, Any]) -> Command[Any]:
        text = _last_human(state.get("messages") or [])
        chosen = by_keyword(text) or by_model(text) or default
        if chosen is None:
            raise AgentError("No suitable agent found and no default agent configured")
        return Command(
            goto=chosen, update={"active_agent": chosen, "routing_history": [chosen]}
        )

    builder = StateGraph(MultiAgentState)
    builder.add_node("route", route, destinations=names)
    for agent, graph in agents.items():
        builder.add_node(agent, graph)
        builder.add_edge(agent, END)
    builder.add_edge(START, "route")
    return builder.compile(checkpointer=checkpointer, name=name)


class _HandoffTool(BaseTool):
    def __init__(self, agent_name: str, description: str | None) -> None:
        self.agent_name = agent_name
        self.needs_state = True
        self.name = f"transfer_to_{re.sub(r'[^A-Za-z0-9_-]', '_', agent_name)}"
        self.description = description or f"Hand the conversation over to {agent_name}."
        self.parameters = {
            "type": "object",
            "properties": {
                "message": {
                    "type": "string",
                    "description": "Optional note for the next agent.",
                }
            },
            "required": [],
        }

    def invoke(self, args: dict[str, Any], runtime: ToolRuntime | None = None) -> Any:
        self.validate(args)
        runtime = runtime or ToolRuntime()
        note = f"Handing off control to agent: {self.agent_name}"
        if args.get("message"):
            note += f" ({args['message']})"
        answer = ToolMessage(
            note, tool_call_id=str(runtime.tool_call_id), name=self.name
        )
        messages = list(runtime.state.get("messages") or [])
        return Command(
            goto=self.agent_name,
            graph=Command.PARENT,
            update={"messages": [*messages, answer], "active_agent": self.agent_name},
        )

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> Any:
        return self.invoke(args, runtime)


def create_handoff_tool(agent_name: str, *, description: str | None = None) -> BaseTool:
    """A tool that transfers control to ``agent_name`` in the parent swarm graph.

    Args:
        agent_name: Target agent node.
        description: Tool description shown to the model.

    Returns:
        The tool (named ``transfer_to_<agent_name>``).
    """
    tool = _HandoffTool(agent_name, description)
    return tool


def create_swarm(
    agents: Mapping[str, Any],
    *,
    default_active_agent: str,
    checkpointer: Any = None,
    name: str = "swarm",
) -> Any:
    """Peers that hand off to each other (build them with handoff tools).

    Args:
        agents: Name to compiled agent graph; agents include
            :func:`create_handoff_tool` tools naming their peers.
        default_active_agent: Agent for the first turn.
        checkpointer: Saver for durable threads.
        name: Graph name.

    Returns:
        The compiled graph (state: :class:`MultiAgentState`).
    """
    names = list(agents)
    if default_active_agent not in agents:
        raise ValueError(f"Unknown default agent {default_active_agent!r}")

    def start(state: dict[str, Any]) -> str:
        active = state.get("active_agent")
        return (
            active
            if isinstance(active, str) and active in agents
            else default_active_agent
        )

    builder = StateGraph(MultiAgentState)
    for agent, graph in agents.items():
        builder.add_node(agent, graph, destinations=[n for n in names if n != agent])
        builder.add_edge(agent, END)
    builder.add_conditional_edges(START, start, names)
    return builder.compile(checkpointer=checkpointer, name=name)


class _AgentTool(BaseTool):
    def __init__(self, graph: Any, name: str, description: str) -> None:
        self.graph = graph
        self.name = name
        self.description = description
        self.parameters = {
            "type": "object",
            "properties": {
                "input": {"type": "string", "description": "The task, in full."}
            },
            "required": ["input"],
        }

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        return run_subagent(
            self.graph, args["input"], self.name, call_id=runtime.tool_call_id
        )


def run_subagent(
    graph: Any, task: str, label: str, *, call_id: str | None = None
) -> str:
    """Run an agent graph on one task in a fresh context; return its final text.

    Args:
        graph: Compiled agent graph.
        task: The task, sent as the only human message.
        label: Subagent name, for messages.
        call_id: Tool call id; names the subagent's own thread when the graph
            was compiled with a checkpointer.

    Returns:
        The final reply (or the structured response, as text).

    Raises:
        ToolError: If the subagent paused for approval (not supported inside a
            tool: put the approval on the delegating tool instead).
    """
    thread = f"subagent:{label}:{call_id or uuid.uuid4().hex}"
    result = graph.invoke(
        {"messages": [HumanMessage(task)]}, {"configurable": {"thread_id": thread}}
    )
    if result.get("__interrupt__"):
        raise ToolError(
            f"Subagent {label} asked for human input, which subagents cannot do; "
            "require approval on the delegating tool instead"
        )
    structured = result.get("structured_response")
    if structured is not None:
        return str(structured)
    return final_text(result)


def agent_as_tool(graph: Any, *, name: str, description: str) -> BaseTool:
    """Expose an agent graph as a tool taking ``{"input": str}``.

    The subagent runs to completion in a fresh context; its final reply is the tool
    result.

    Args:
        graph: Compiled agent graph.
        name: Tool name.
        description: What the subagent is good at (the supervisor reads this).

    Returns:
        The tool.
    """
    return _AgentTool(graph, name, description)


SUPERVISOR_PROMPT = (
    "You are a supervisor. Delegate work to your agents by calling their tools, "
    "then combine their answers for the user. Agents:\n{agents}"
)


def create_supervisor(
    model: str | BaseChatModel,
    agents: Mapping[str, tuple[Any, str]],
    *,
    system_prompt: str | None = None,
    tools: Sequence[BaseTool] = (),
    interrupt_on: Mapping[str, Any] | None = None,
    checkpointer: Any = None,
    max_iterations: int = 10,
    name: str = "supervisor",
) -> Any:
    """A supervisor agent whose tools are subagents.

    Args:
        model: Supervisor chat model.
        agents: Name to ``(compiled agent graph, description)``.
        system_prompt: Overrides the default supervisor prompt.
        tools: Extra tools for the supervisor itself.
        interrupt_on: Approval config (subagent tool names are valid keys).
        checkpointer: Saver for durable threads.
        max_iterations: Delegation rounds per user turn.
        name: Agent name.

    Returns:
        The compiled supervisor graph (an agent graph).
    """
    delegates = [
        agent_as_tool(graph, name=agent, description=description)
        for agent, (graph, description) in agents.items()
    ]
    listing = "\n".join(f"- {a}: {d}" for a, (_, d) in agents.items())
    return create_agent(
        model,
        [*delegates, *tools],
        system_prompt=system_prompt or SUPERVISOR_PROMPT.format(agents=listing),
        interrupt_on=interrupt_on,
        checkpointer=checkpointer,
        max_iterations=max_iterations,
        name=name,
    )
