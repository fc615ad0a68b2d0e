"""Executing one tool call as one graph task.

The agent fans tool calls out with ``Send("tools", {"tool_call": ...})``, so every
call is its own task: when one call fails or the process dies, the calls that
already finished are in the checkpoint's pending writes and are not run again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from agents.effects import is_overridden, overridden_tool_result
from agents.errors import ToolError, ToolNotFoundError
from agents.instrumentation import ObservedCall, tool_call
from agents.tools.base import BaseTool, ToolRuntime, format_tool_result
from graphs.effects import aperform, perform
from graphs.errors import GraphInterrupt, ParentCommand
from graphs.messages import AIMessage, BaseMessage, ToolCall, ToolMessage
from graphs.types import Command

__all__ = ["ToolExecutor", "pending_tool_calls"]

logger = logging.getLogger(__name__)


class _Turn:
    __slots__ = ("result", "runs", "runtime", "update")

    def __init__(self, runtime: ToolRuntime) -> None:
        self.runtime = runtime
        self.runs = True
        self.result: Any = None
        self.update: Any = None


def _request(call: ToolCall) -> dict[str, Any]:
    """What a tool call asks, as recorded and compared on replay."""
    return {"tool": call["name"], "args": call["args"], "id": call["id"]}


def _runtime(
    call: ToolCall, state: Mapping[str, Any], config: dict[str, Any], writer: Any
) -> ToolRuntime:
    return ToolRuntime(
        state=dict(state),
        tool_call_id=call["id"],
        config=config,
        stream_writer=writer or (lambda _chunk: None),
    )


def pending_tool_calls(messages: Sequence[BaseMessage]) -> list[ToolCall]:
    """Tool calls of the last AI message that have no ToolMessage answer yet."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, AIMessage):
            answered = {
                m.tool_call_id for m in messages[i + 1 :] if isinstance(m, ToolMessage)
            }
            return [c for c in message.tool_calls if c["id"] not in answered]
    return []


class ToolExecutor:
    """Runs tool calls by name and turns results into state updates.

    Args:
        tools: The tools.
        handle_errors: Report unexpected exceptions to the model as error
            ToolMessages (True) or let them fail the task (False). ``ToolError``
            is always reported to the model.
    """

    def __init__(
        self, tools: Sequence[BaseTool], *, handle_errors: bool = True
    ) -> None:
        self.tools: dict[str, BaseTool] = {t.name: t for t in tools}
        self.handle_errors = handle_errors

    def needs_state(self, name: str) -> bool:
        """Whether the tool asks for :class:`ToolRuntime` (and so the state)."""
        found = self.tools.get(name)
        return bool(found and found.needs_state)

    def is_return_direct(self, name: str) -> bool:
        """Whether the tool ends the agent turn."""
        found = self.tools.get(name)
        return bool(found and found.return_direct)

    def run(
        self,
        call: ToolCall,
        *,
        state: Mapping[str, Any],
        config: dict[str, Any],
        writer: Any,
    ) -> Any:
        """Run one call; return a state update dict or a ``Command``.

        Inside a durable run the call is an effect (recorded once, answered from
        the ledger when its task runs again; a fork's ``tool_results`` answer it
        instead of the tool)."""
        return perform(
            "tool",
            call["name"],
            _request(call),
            lambda _effect: self._execute(call, state, config, writer),
        )

    async def arun(
        self,
        call: ToolCall,
        *,
        state: Mapping[str, Any],
        config: dict[str, Any],
        writer: Any,
    ) -> Any:
        """Async :meth:`run` (the tool's ``ainvoke``), an effect as it is."""
        return await aperform(
            "tool",
            call["name"],
            _request(call),
            lambda _effect: self._aexecute(call, state, config, writer),
        )

    def _execute(
        self,
        call: ToolCall,
        state: Mapping[str, Any],
        config: dict[str, Any],
        writer: Any,
    ) -> Any:
        with self._turn(call, _runtime(call, state, config, writer)) as turn:
            if turn.runs:
                turn.result = self._tool(call).invoke(call["args"], turn.runtime)
        return turn.update

    async def _aexecute(
        self,
        call: ToolCall,
        state: Mapping[str, Any],
        config: dict[str, Any],
        writer: Any,
    ) -> Any:
        with self._turn(call, _runtime(call, state, config, writer)) as turn:
            if turn.runs:
                tool = self._tool(call)
                turn.result = await tool.ainvoke(call["args"], turn.runtime)
        return turn.update

    @contextmanager
    def _turn(self, call: ToolCall, runtime: ToolRuntime) -> Iterator[_Turn]:
        """Around one tool call (observed): a fork's result answers it instead
        (``runs`` is false); its result or its failure becomes ``update``."""
        turn = _Turn(runtime)
        forced = overridden_tool_result(call["name"])
        if is_overridden(forced):
            turn.runs = False
            yield turn
            turn.update = self._wrap(call, forced)
            return
        with tool_call(name=call["name"], call_id=str(call["id"])) as observed:
            try:
                yield turn
            except Exception as exc:
                turn.update = self._failed(call, exc, observed)
                return
            turn.update = self._wrap(call, turn.result)

    def _tool(self, call: ToolCall) -> BaseTool:
        tool = self.tools.get(call["name"])
        if tool is None:
            raise ToolNotFoundError(
                f"Tool {call['name']!r} does not exist; available: "
                f"{', '.join(sorted(self.tools)) or 'none'}"
            )
        return tool

    def _failed(self, call: ToolCall, exc: Exception, observed: ObservedCall) -> Any:
        """A tool's exception (called in its ``except``): engine control flow,
        and failures without ``handle_errors``, are raised again; the rest is
        reported to the model."""
        if isinstance(exc, GraphInterrupt | ParentCommand):
            raise  # control flow of the engine, not a tool failure
        if not isinstance(exc, ToolError) and not self.handle_errors:
            raise
        observed.error = exc
        if isinstance(exc, ToolError):
            return {"messages": [self._error(call, str(exc))]}
        logger.warning("tool %s failed: %r", call["name"], exc)
        text = f"Error: {type(exc).__name__}: {exc}\nPlease fix your mistakes."
        return {"messages": [self._error(call, text)]}

    def _error(self, call: ToolCall, text: str) -> ToolMessage:
        return ToolMessage(
            text, tool_call_id=str(call["id"]), name=call["name"], status="error"
        )

    def _wrap(self, call: ToolCall, result: Any) -> Any:
        if isinstance(result, Command):
            return self._complete_command(call, result)
        if isinstance(result, ToolMessage):
            return {"messages": [result]}
        return {
            "messages": [
                ToolMessage(
                    format_tool_result(result),
                    tool_call_id=str(call["id"]),
                    name=call["name"],
                )
            ]
        }

    def _complete_command(self, call: ToolCall, command: Command[Any]) -> Command[Any]:
        # Every tool call needs an answer in the history (providers reject a
        # dangling call), so a Command without one gets a default ToolMessage.
        update = command.update if isinstance(command.update, dict) else {}
        messages = list(update.get("messages") or [])
        answered = any(
            isinstance(m, ToolMessage) and m.tool_call_id == call["id"]
            for m in messages
        )
        if answered or command.graph == Command.PARENT:
            return command
        messages.append(
            ToolMessage("Done.", tool_call_id=str(call["id"]), name=call["name"])
        )
        return Command(
            graph=command.graph,
            update={**update, "messages": messages},
            goto=command.goto,
            resume=command.resume,
        )
