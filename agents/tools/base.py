"""Tools: a name, a description, a JSON schema for the arguments, and a function.

``@tool`` derives the schema from the function's type hints and the ``Args:`` section
of its Google-style docstring. A parameter annotated :class:`ToolRuntime` is injected
by the tool node (current state, tool call id, stream writer) and hidden from the
model. A tool returns text, JSON-able data, or a ``graphs`` ``Command`` to update the
agent's state or hand off control.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, overload

from agents.errors import ToolError
from agents.tools._schema import schema_from_function, validate_json_schema

__all__ = ["BaseTool", "Tool", "ToolRuntime", "ToolSpec", "tool", "to_tool_spec"]


class ToolSpec(typing.TypedDict):
    """Provider-neutral tool description sent to chat models."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(kw_only=True)
class ToolRuntime:
    """What the tool node injects into tools that ask for it.

    Args:
        state: The agent state when the tool call was made.
        tool_call_id: Id of the call being executed.
        config: The graph run config (``configurable.thread_id``...).
        stream_writer: Writes to the graph's ``custom`` stream (no-op when absent).
    """

    state: dict[str, Any] = field(default_factory=dict)
    tool_call_id: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    stream_writer: Callable[[Any], None] = lambda _chunk: None


class BaseTool:
    """A tool the model can call.

    Subclasses set ``name``, ``description`` and ``parameters`` and implement
    :meth:`_run` (and optionally :meth:`_arun`).
    """

    name: str = ""
    description: str = ""
    parameters: dict[str, Any] = {"type": "object", "properties": {}}
    return_direct: bool = False
    needs_state: bool = False
    """Whether the tool reads :attr:`ToolRuntime.state` (it is then sent along)."""

    @property
    def spec(self) -> ToolSpec:
        """The :class:`ToolSpec` sent to chat models."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    def validate(self, args: dict[str, Any]) -> None:
        """Check ``args`` against :attr:`parameters`.

        Raises:
            ToolError: Listing every violation.
        """
        errors = validate_json_schema(args, self.parameters)
        if errors:
            raise ToolError(f"Invalid arguments for {self.name}: " + "; ".join(errors))

    def invoke(self, args: dict[str, Any], runtime: ToolRuntime | None = None) -> Any:
        """Validate and run the tool synchronously.

        Args:
            args: Arguments from the model.
            runtime: Injected context (a blank one when ``None``).

        Returns:
            The tool's result (text, JSON-able data or a ``Command``).

        Raises:
            ToolError: On invalid arguments or a refusal by the tool.
        """
        self.validate(args)
        return self._run(dict(args), runtime or ToolRuntime())

    async def ainvoke(
        self, args: dict[str, Any], runtime: ToolRuntime | None = None
    ) -> Any:
        """Async :meth:`invoke`."""
        self.validate(args)
        return await self._arun(dict(args), runtime or ToolRuntime())

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> Any:
        raise NotImplementedError

    async def _arun(self, args: dict[str, Any], runtime: ToolRuntime) -> Any:
        return await asyncio.to_thread(self._run, args, runtime)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def _is_runtime(_name: str, annotation: Any) -> bool:
    if annotation is ToolRuntime:
        return True
    return typing.get_origin(annotation) is typing.Annotated and (
        typing.get_args(annotation)[0] is ToolRuntime
    )


class Tool(BaseTool):
    """A tool backed by a plain (sync or async) function.

    Args:
        func: The function; its parameters are the tool's arguments.
        name: Tool name (default: the function name).
        description: Description (default: the docstring's summary).
        parameters: JSON schema (default: derived from type hints).
        return_direct: End the agent turn with this tool's result.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        return_direct: bool = False,
    ) -> None:
        schema, doc = schema_from_function(func, skip=_is_runtime)
        hints = typing.get_type_hints(func, include_extras=True)
        self.func = func
        self.name = name or func.__name__
        self.description = description or doc or self.name
        self.parameters = parameters or schema
        self.return_direct = return_direct
        self._runtime_params = [
            p
            for p in inspect.signature(func).parameters
            if _is_runtime(p, hints.get(p))
        ]
        self.needs_state = bool(self._runtime_params)

    def _call(self, args: dict[str, Any], runtime: ToolRuntime) -> Any:
        for param in self._runtime_params:
            args[param] = runtime
        return self.func(**args)

    def _run(self, args: dict[str, Any], runtime: ToolRuntime) -> Any:
        result = self._call(args, runtime)
        if inspect.isawaitable(result):
            return _run_coroutine(result)
        return result

    async def _arun(self, args: dict[str, Any], runtime: ToolRuntime) -> Any:
        if inspect.iscoroutinefunction(self.func):
            return await self._call(args, runtime)
        return await asyncio.to_thread(self._call, args, runtime)


def _run_coroutine(awaitable: Awaitable[Any]) -> Any:
    """Runs ``awaitable`` to completion from sync code.

    Inside a running event loop (a sync call from async code) it runs on a loop of
    its own in a helper thread: the caller blocks, as on any sync call.
    """

    async def wrap() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrap())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrap()).result()


@overload
def tool(func: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    name: str | None = None,
    /,
    *,
    description: str | None = None,
    return_direct: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    func_or_name: Callable[..., Any] | str | None = None,
    /,
    *,
    description: str | None = None,
    return_direct: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a function into a :class:`Tool`.

    Usable bare (``@tool``), with a name (``@tool("search")``) or with options
    (``@tool(description=..., return_direct=True)``).

    Args:
        func_or_name: The function, or the tool name.
        description: Overrides the docstring summary.
        return_direct: End the agent turn with this tool's result.

    Returns:
        A :class:`Tool`, or a decorator producing one.
    """
    if callable(func_or_name):
        return Tool(func_or_name, description=description, return_direct=return_direct)

    def decorate(func: Callable[..., Any]) -> Tool:
        return Tool(
            func,
            name=func_or_name,
            description=description,
            return_direct=return_direct,
        )

    return decorate


def to_tool_spec(obj: Any) -> ToolSpec:
    """Normalise a tool-like value into a :class:`ToolSpec`.

    Args:
        obj: A :class:`BaseTool`, a function (wrapped with :func:`tool`), a
            ``ToolSpec`` dict, an OpenAI ``{"type": "function", "function": ...}``
            dict or an Anthropic ``{"name", "input_schema"}`` dict.

    Returns:
        The spec.

    Raises:
        TypeError: For anything else.
    """
    if isinstance(obj, BaseTool):
        return obj.spec
    if isinstance(obj, dict):
        fn = obj.get("function", obj)
        params = fn.get("parameters", fn.get("input_schema"))
        return {
            "name": fn["name"],
            "description": fn.get("description", ""),
            "parameters": params or {"type": "object", "properties": {}},
        }
    if callable(obj):
        return Tool(obj).spec
    raise TypeError(f"Not a tool: {obj!r}")


def format_tool_result(result: Any) -> str | list[Any]:
    """Render a tool's return value as ToolMessage content."""
    if isinstance(result, str):
        return result
    if result is None:
        return ""
    try:
        return json.dumps(result, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(result)
