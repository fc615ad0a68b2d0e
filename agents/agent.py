"""``create_agent``: a tool-calling agent as a graph (model node <-> tool tasks).

::

    START -> model --(tool calls needing approval)--> approval --> tools(Send per call)
               ^  \\--(other tool calls)------------------------> tools --+
               |   \\--(no tool calls / answer given)--> END              |
               +-----------------------------------------------------------+

Every tool call is its own task (``Send``), so a crash after some calls finished
re-runs only the others; the approval node pauses the run with ``interrupt()`` and
the Oris payload; the scripted and HTTP models are interchangeable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypedDict

from agents.approval import (
    ApprovalPolicy,
    InterruptOnConfig,
    apply_decisions,
    normalise_decisions,
)
from agents.chat_models import BaseChatModel, init_chat_model
from agents.errors import ApprovalError, StructuredOutputError
from agents.structured import ResponseFormat
from agents.tool_node import ToolExecutor, pending_tool_calls
from agents.tools.base import BaseTool, Tool
from graphs import (
    END,
    START,
    InterruptPolicy,
    Send,
    StateGraph,
    get_message_writer,
    get_stream_writer,
    interrupt,
)
from graphs.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UsageMetadata,
    add_messages,
    add_usage,
)

__all__ = ["MAX_ITERATIONS_REACHED", "AgentState", "create_agent"]

MAX_ITERATIONS_REACHED = "Max iterations reached"
"""Reply of an agent stopped by ``max_iterations`` (the original Oris text)."""


class AgentState(TypedDict, total=False):
    """State of an agent graph.

    Attributes:
        messages: The conversation (merged by id).
        structured_response: The validated answer when ``response_format`` is set.
        usage: Token usage summed over every model call of the thread.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    structured_response: Any
    usage: Annotated[UsageMetadata | None, add_usage]


SystemPrompt = str | Callable[[Mapping[str, Any]], str | None] | None


def create_agent(
    model: str | BaseChatModel,
    tools: Sequence[BaseTool | Callable[..., Any]] = (),
    *,
    system_prompt: SystemPrompt = None,
    interrupt_on: Mapping[str, bool | InterruptOnConfig] | None = None,
    response_format: Any = None,
    max_iterations: int = 10,
    checkpointer: Any = None,
    name: str | None = None,
    state_schema: type | None = None,
    handle_tool_errors: bool = True,
    stream_tokens: bool = True,
) -> Any:
    """Build a tool-calling agent graph.

    Args:
        model: A chat model or a ``"provider:model"`` string.
        tools: Tools (``@tool`` functions, :class:`BaseTool` instances or plain
            functions).
        system_prompt: Text, or a function of the state returning text, sent as
            the first message of every model call (never stored in the state).
        interrupt_on: Tools needing human approval: ``{"write_file": True}`` or
            ``{"write_file": {"allowed_decisions": ["approve", "reject"]}}``;
            ``"*"`` matches every tool. ``"policy": InterruptPolicy(...)`` in a
            tool's config declares who may decide, by when and how many must
            agree (enforced by the durable runtime); calls under different
            policies are reviewed in separate interrupts, in order.
        response_format: JSON schema dict, pydantic model, TypedDict or dataclass;
            the answer lands in ``state["structured_response"]``.
        max_iterations: Tool rounds allowed per user turn; then the agent stops
            with ``"Max iterations reached"``.
        checkpointer: Saver for durable threads (required for approvals).
        name: Agent name, stamped on its AI messages (multi-agent graphs).
        state_schema: A TypedDict extending :class:`AgentState`.
        handle_tool_errors: Report tool exceptions to the model (True) or fail.
        stream_tokens: Stream model tokens when the run streams ``messages``.

    Returns:
        The compiled graph: ``invoke({"messages": [...]}, config)``.
    """
    chat = init_chat_model(model)
    tool_objs = [t if isinstance(t, BaseTool) else Tool(t) for t in tools]
    executor = ToolExecutor(tool_objs, handle_errors=handle_tool_errors)
    policy = ApprovalPolicy.from_interrupt_on(interrupt_on)
    fmt = (
        ResponseFormat.from_any(response_format)
        if response_format is not None
        else None
    )
    specs = [t.spec for t in tool_objs] + ([fmt.tool_spec] if fmt else [])
    tool_choice = "any" if fmt else None

    def call_model(state: dict[str, Any]) -> dict[str, Any]:
        messages = list(state.get("messages") or [])
        if _tool_rounds(messages) >= max_iterations:
            return {"messages": [_stop_message(name)]}
        prompt = _system(system_prompt, state) + messages
        reply = _generate(chat, prompt, specs, tool_choice, stream_tokens)
        reply.name = name
        update: dict[str, Any] = {"messages": [reply]}
        if reply.usage_metadata is not None:
            update["usage"] = reply.usage_metadata
        if fmt is not None:
            _structured(fmt, reply, update)
        return update

    def review(state: dict[str, Any]) -> dict[str, Any]:
        messages = state["messages"]
        calls = [
            c for c in pending_tool_calls(messages) if policy.config_for(c["name"])
        ]
        if not calls:
            return {}
        edited: dict[str, ToolCall] = {}
        rejections: list[ToolMessage] = []
        # Calls under different interrupt policies are reviewed one policy at a
        # time (one interrupt each); with one policy this is a single interrupt.
        for review_policy, batch in policy.review_batches(calls):
            changed, refused = _review(policy, batch, review_policy)
            edited |= changed
            rejections += refused
        out: list[BaseMessage] = []
        if edited:
            ai = _last_ai(messages)
            out.append(
                ai.copy(tool_calls=[edited.get(str(c["id"]), c) for c in ai.tool_calls])
            )
        return {"messages": out + rejections} if out or rejections else {}

    def run_tool(arg: dict[str, Any], config: dict[str, Any]) -> Any:
        return executor.run(
            arg["tool_call"],
            state=arg.get("state") or {},
            config=config,
            writer=get_stream_writer(),
        )

    def sends(state: dict[str, Any]) -> list[Send]:
        return [
            Send(
                "tools",
                {"tool_call": c, "state": dict(state)}
                if executor.needs_state(c["name"])
                else {"tool_call": c},
            )
            for c in pending_tool_calls(state["messages"])
        ]

    def after_model(state: dict[str, Any]) -> Any:
        last = state["messages"][-1]
        if fmt is not None and isinstance(last, ToolMessage) and last.name == fmt.name:
            return END if last.status == "success" else "model"
        pending = pending_tool_calls(state["messages"])
        if not pending:
            return END
        if any(policy.config_for(c["name"]) for c in pending):
            return "approval"
        return sends(state)

    def after_review(state: dict[str, Any]) -> Any:
        return sends(state) or "model"

    def after_tools(state: dict[str, Any]) -> Any:
        messages = state["messages"]
        for message in reversed(messages):
            if not isinstance(message, ToolMessage):
                break
            if message.status == "success" and executor.is_return_direct(
                message.name or ""
            ):
                return END
        return "model"

    builder = StateGraph(state_schema or AgentState)
    builder.add_node("model", call_model)
    builder.add_node("tools", run_tool)
    builder.add_edge(START, "model")
    targets = ["approval", "tools", "model", END] if policy else ["tools", "model", END]
    builder.add_conditional_edges("model", after_model, targets)
    builder.add_conditional_edges("tools", after_tools, ["model", END])
    if policy:
        builder.add_node("approval", review)
        builder.add_conditional_edges("approval", after_review, ["tools", "model"])
    compiled = builder.compile(checkpointer=checkpointer, name=name or "agent")
    # A tool round is up to three supersteps (model, approval, tools); make sure the
    # engine's recursion limit never fires before max_iterations does.
    return compiled.with_config(recursion_limit=3 * max_iterations + 5)


def _review(
    policy: ApprovalPolicy, calls: list[ToolCall], review: InterruptPolicy | None
) -> tuple[dict[str, ToolCall], list[ToolMessage]]:
    """Asks for decisions on ``calls`` until an answer can be applied."""
    payload: dict[str, Any] = dict(policy.request(calls))
    while True:
        answer = interrupt(payload, policy=review)
        try:
            decisions = normalise_decisions(answer, len(calls))
            return apply_decisions(policy, calls, decisions)
        except ApprovalError as exc:
            # Ask again instead of failing the run on a malformed answer.
            payload = {**payload, "error": str(exc)}


def _tool_rounds(messages: Sequence[BaseMessage]) -> int:
    rounds = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage) and message.tool_calls:
            rounds += 1
    return rounds


def _stop_message(name: str | None) -> AIMessage:
    return AIMessage(
        MAX_ITERATIONS_REACHED,
        name=name,
        response_metadata={"finish_reason": "max_iterations"},
    )


def _system(prompt: SystemPrompt, state: Mapping[str, Any]) -> list[BaseMessage]:
    text = prompt(state) if callable(prompt) else prompt
    return [SystemMessage(text)] if text else []


def _last_ai(messages: Sequence[BaseMessage]) -> AIMessage:
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return message
    raise ValueError("no AI message in the conversation")


def _generate(
    chat: BaseChatModel,
    prompt: list[BaseMessage],
    specs: list[Any],
    tool_choice: str | None,
    stream_tokens: bool,
) -> AIMessage:
    writer = get_message_writer()
    if not (stream_tokens and writer.enabled):
        return chat.invoke(prompt, tools=specs, tool_choice=tool_choice)
    # Chunks and the reply share one id, so the engine does not send the reply
    # again on the messages stream when the node returns it.
    message_id = f"run-{uuid.uuid4()}"
    total: AIMessageChunk | None = None
    for chunk in chat.stream(prompt, tools=specs, tool_choice=tool_choice):
        chunk.id = message_id
        writer(chunk)
        total = chunk if total is None else total + chunk
    reply = total.to_message() if total is not None else AIMessage("")
    reply.id = message_id
    reply.response_metadata.setdefault("model_provider", chat.provider)
    reply.response_metadata.setdefault("model_name", chat.model)
    return reply


def _structured(fmt: ResponseFormat, reply: AIMessage, update: dict[str, Any]) -> None:
    answers = [c for c in reply.tool_calls if c["name"] == fmt.name]
    if not answers:
        if not reply.tool_calls:
            update["structured_response"] = fmt.parse_text(reply.text)
        return
    call = answers[0]
    others = [
        ToolMessage(
            "Not executed: a final structured response was given.",
            tool_call_id=str(c["id"]),
            name=c["name"],
            status="error",
        )
        for c in reply.tool_calls
        if c is not call
    ]
    try:
        value = fmt.parse(call["args"])
    except StructuredOutputError as exc:
        result = ToolMessage(
            f"Error: invalid structured response: {exc}. Call {fmt.name} again "
            "with arguments that match its schema.",
            tool_call_id=str(call["id"]),
            name=fmt.name,
            status="error",
        )
    else:
        update["structured_response"] = value
        result = ToolMessage(
            "Returning structured response: " + json.dumps(call["args"], default=str),
            tool_call_id=str(call["id"]),
            name=fmt.name,
        )
    update["messages"] += [*others, result]
