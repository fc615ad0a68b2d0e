"""The deep agent: planning, a workspace filesystem, subagents and skills.

``create_deep_agent`` is ``create_agent`` with, by default:

- ``write_todos`` -- the plan lives in the state (``todos``) and is shown back to the
  model on every call, so it survives crashes with the checkpoint;
- the sandboxed filesystem tools on ``workspace_root``;
- a ``task`` tool delegating to subagents (a general-purpose one with the same tools
  and prompt, plus the ones you declare), each run in a fresh context;
- skills folders (``SKILL.md`` with ``name``/``description`` front matter), listed
  in the prompt and loaded in full when the user's message is about them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.agent import AgentState, SystemPrompt, create_agent
from agents.chat_models import BaseChatModel, init_chat_model
from agents.multi_agent import run_subagent
from agents.skills import Skill, load_skills, skills_prompt
from agents.tools.base import BaseTool, Tool, ToolRuntime
from agents.tools.filesystem import filesystem_tools
from agents.tools.write_todos import Todo, WriteTodosTool
from graphs.messages import HumanMessage

__all__ = [
    "DEFAULT_DEEP_PROMPT",
    "DeepAgentState",
    "SubAgent",
    "TaskTool",
    "create_deep_agent",
]

DEFAULT_DEEP_PROMPT = (
    "You are a deep agent with planning and optional file system and task tools. "
    "Use write_todos to break complex tasks into steps and track progress. Use ls, "
    "read_file, write_file, edit_file, glob, and grep to work inside the workspace "
    "when available. Use the task tool to delegate to specialized subagents when "
    "configured."
)
GENERAL_PURPOSE = "general-purpose"
GENERAL_PURPOSE_DESCRIPTION = (
    "General-purpose subagent for context isolation. Same system prompt and tools as "
    "the main agent; use it for self-contained tasks whose details should not fill "
    "your own context."
)


class DeepAgentState(AgentState, total=False):
    """Agent state plus the plan written by ``write_todos``."""

    todos: list[Todo]


@dataclass(kw_only=True)
class SubAgent:
    """A subagent the ``task`` tool can delegate to.

    Args:
        name: Identifier the model passes as ``subagent_type``.
        description: When to use it (shown to the main agent).
        system_prompt: Its instructions.
        tools: Its tools (default: the main agent's tools, without ``task``).
        model: Its model (default: the main agent's model).
        graph: A prebuilt compiled agent graph (then the fields above but name and
            description are ignored).
    """

    name: str
    description: str
    system_prompt: str | None = None
    tools: Sequence[BaseTool] | None = None
    model: str | BaseChatModel | None = None
    graph: Any = None

    @classmethod
    def coerce(cls, value: SubAgent | Mapping[str, Any]) -> SubAgent:
        """Accept a :class:`SubAgent` or a dict with the same keys."""
        return value if isinstance(value, SubAgent) else cls(**dict(value))


@dataclass
class _Roster:
    graphs: dict[str, Any] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)


class TaskTool(BaseTool):
    """``task``: run a subagent on a self-contained task and return its answer.

    Args:
        subagents: Name to ``(compiled graph, description)``.
    """

    name = "task"

    def __init__(self, subagents: Mapping[str, tuple[Any, str]]) -> None:
        if not subagents:
            raise ValueError("the task tool needs at least one subagent")
        self.subagents = dict(subagents)
        listing = "\n".join(f"- {n}: {d}" for n, (_, d) in self.subagents.items())
        self.description = (
            "Delegate a self-contained task to a subagent that works in a fresh "
            f"context and reports back. Available subagents:\n{listing}"
        )
        self.parameters = {
            "type": "object",
            "properties": {
                "description": {
                    "type": "string",
                    "description": "The task, with every detail the subagent needs.",
                },
                "subagent_type": {"type": "string", "enum": list(self.subagents)},
            },
            "required": ["description"],
        }

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> str:
        # As in the original Oris, a missing subagent means the first (an unknown
        # one is refused by the schema's enum, which tells the model the choices).
        chosen = args.get("subagent_type")
        name = chosen if chosen in self.subagents else next(iter(self.subagents))
        graph, _ = self.subagents[name]
        return run_subagent(
            graph, args["description"], name, call_id=runtime.tool_call_id
        )


def create_deep_agent(
    model: str | BaseChatModel,
    tools: Sequence[BaseTool | Any] = (),
    *,
    system_prompt: str | None = None,
    workspace_root: str | os.PathLike[str] | None = None,
    subagents: Sequence[SubAgent | Mapping[str, Any]] = (),
    skills_dirs: Sequence[str | os.PathLike[str]] = (),
    interrupt_on: Mapping[str, Any] | None = None,
    response_format: Any = None,
    checkpointer: Any = None,
    enable_planning: bool = True,
    general_purpose_agent: bool = True,
    max_iterations: int = 25,
    name: str = "deep_agent",
) -> Any:
    """Build a deep agent graph.

    Args:
        model: Chat model or ``"provider:model"``.
        tools: Your tools, added to the built-ins.
        system_prompt: Your instructions, placed before the built-in guidance.
        workspace_root: Directory for the filesystem tools; ``None`` leaves them
            out (the agent then has no files).
        subagents: Specialists for the ``task`` tool.
        skills_dirs: Folders of ``<skill>/SKILL.md``.
        interrupt_on: Approval config (built-in tool names are valid keys, e.g.
            ``{"write_file": True}``).
        response_format: Structured output (see ``create_agent``).
        checkpointer: Saver for durable threads.
        enable_planning: Include ``write_todos``.
        general_purpose_agent: Include the ``general-purpose`` subagent.
        max_iterations: Tool rounds per user turn.
        name: Agent name.

    Returns:
        The compiled graph (state: :class:`DeepAgentState`).
    """
    chat = init_chat_model(model)
    base_tools = [t if isinstance(t, BaseTool) else Tool(t) for t in tools]
    if enable_planning:
        base_tools.append(WriteTodosTool())
    if workspace_root is not None:
        base_tools += filesystem_tools(workspace_root)
    skills = load_skills(skills_dirs)
    instructions = "\n\n".join(p for p in (system_prompt, DEFAULT_DEEP_PROMPT) if p)
    roster = _roster(chat, base_tools, instructions, subagents, general_purpose_agent)
    all_tools = list(base_tools)
    if roster.graphs:
        all_tools.append(
            TaskTool({n: (g, roster.descriptions[n]) for n, g in roster.graphs.items()})
        )
    return create_agent(
        chat,
        all_tools,
        system_prompt=_prompt(instructions, skills),
        interrupt_on=interrupt_on,
        response_format=response_format,
        max_iterations=max_iterations,
        checkpointer=checkpointer,
        name=name,
        state_schema=DeepAgentState,
    )


def _roster(
    chat: BaseChatModel,
    tools: list[BaseTool],
    instructions: str,
    subagents: Sequence[SubAgent | Mapping[str, Any]],
    general_purpose: bool,
) -> _Roster:
    roster = _Roster()
    specs = [SubAgent.coerce(s) for s in subagents]
    if general_purpose:
        specs.insert(
            0, SubAgent(name=GENERAL_PURPOSE, description=GENERAL_PURPOSE_DESCRIPTION)
        )
    for spec in specs:
        graph = spec.graph or create_agent(
            init_chat_model(spec.model) if spec.model is not None else chat,
            list(spec.tools) if spec.tools is not None else tools,
            system_prompt=spec.system_prompt or instructions,
            name=spec.name,
        )
        roster.graphs[spec.name] = graph
        roster.descriptions[spec.name] = spec.description
    return roster


def _prompt(instructions: str, skills: list[Skill]) -> SystemPrompt:
    def build(state: Mapping[str, Any]) -> str:
        parts = [instructions]
        todos = state.get("todos") or []
        if todos:
            plan = "\n".join(f"- [{t['status']}] {t['title']}" for t in todos)
            parts.append(f"## Current plan\n{plan}")
        latest = next(
            (
                m.text
                for m in reversed(state.get("messages") or [])
                if isinstance(m, HumanMessage)
            ),
            "",
        )
        section = skills_prompt(skills, latest)
        if section:
            parts.append(section)
        return "\n\n".join(parts)

    return build
