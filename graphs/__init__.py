"""graphs: a LangGraph-compatible state-graph engine (stdlib only).

A LangGraph program ports by changing imports::

    from graphs import StateGraph, START, END, interrupt, Command
    from graphs.checkpoint import InMemorySaver
"""

from __future__ import annotations

from graphs._context import (
    MessageWriter,
    get_config,
    get_message_writer,
    get_stream_writer,
    interrupt,
)
from graphs._timeouts import heartbeat
from graphs.compiled import CompiledGraph
from graphs.effects import EffectDivergence, EffectOptions, effect, get_effect
from graphs.errors import (
    CheckpointDecodeError,
    EmptyInputError,
    GraphError,
    GraphInterrupt,
    GraphRecursionError,
    GraphSignal,
    InvalidGraphError,
    InvalidUpdateError,
    NodeError,
    NodeTimeoutError,
    SerializationError,
)
from graphs.messages import MessagesState, add_messages
from graphs.policy import InterruptPolicy
from graphs.runtime import Runtime, get_runtime
from graphs.state import StateGraph
from graphs.store.base import get_store
from graphs.types import (
    END,
    START,
    CachePolicy,
    Command,
    Interrupt,
    Overwrite,
    RetryPolicy,
    RunResult,
    Send,
    StateSnapshot,
    StateTask,
    StateUpdate,
    TimeoutPolicy,
)

CompiledStateGraph = CompiledGraph

__all__ = [
    "END",
    "START",
    "CachePolicy",
    "CheckpointDecodeError",
    "Command",
    "CompiledGraph",
    "CompiledStateGraph",
    "EffectDivergence",
    "EffectOptions",
    "EmptyInputError",
    "GraphError",
    "GraphInterrupt",
    "GraphRecursionError",
    "GraphSignal",
    "Interrupt",
    "InterruptPolicy",
    "InvalidGraphError",
    "InvalidUpdateError",
    "MessageWriter",
    "MessagesState",
    "NodeError",
    "NodeTimeoutError",
    "Overwrite",
    "RetryPolicy",
    "RunResult",
    "Runtime",
    "Send",
    "SerializationError",
    "StateGraph",
    "StateSnapshot",
    "StateTask",
    "StateUpdate",
    "TimeoutPolicy",
    "add_messages",
    "effect",
    "get_config",
    "get_effect",
    "get_message_writer",
    "get_runtime",
    "get_store",
    "get_stream_writer",
    "heartbeat",
    "interrupt",
]
