"""LangChain interop while a graph runs: Runnables, the node config, token streaming.

Like :mod:`graphs._langchain`, nothing here imports LangChain unless the program
already has: a task hands its config to LangChain only when
``langchain_core.runnables.config`` is loaded.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from graphs._events import callbacks as event_callbacks
from graphs._langchain import loaded, new_id, to_langchain

__all__ = ["enter", "is_runnable", "leave", "node_config", "runnable_calls"]


# -- Runnables as nodes and branches ---------------------------------------------


def is_runnable(action: Any) -> bool:
    """A LangChain-style Runnable: not callable itself, but has ``invoke``."""
    return not callable(action) and callable(getattr(action, "invoke", None))


def runnable_calls(
    runnable: Any,
) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """``(sync, async)`` node functions ``(state, config)`` for a Runnable.

    The sync driver calls ``invoke``, the async one ``ainvoke`` (when the
    Runnable has it), as LangGraph does. Oris messages in the state reach the
    Runnable as LangChain messages (a LangChain chain or agent cannot read ours).
    """

    def call(state: Any, config: Any) -> Any:
        return runnable.invoke(_langchain_state(state), config)

    ainvoke = getattr(runnable, "ainvoke", None)

    async def acall(state: Any, config: Any) -> Any:
        if ainvoke is None:
            return call(state, config)
        return await ainvoke(_langchain_state(state), config)

    return call, acall


def _langchain_state(state: Any) -> Any:
    """``state`` with its Oris messages (alone or in lists) as LangChain ones."""
    if not isinstance(state, dict) or loaded() is None:
        return state
    from graphs.messages import BaseMessage as OrisMessage

    def convert(value: Any) -> Any:
        if isinstance(value, OrisMessage):
            return to_langchain(value)
        if isinstance(value, list) and any(isinstance(v, OrisMessage) for v in value):
            return [to_langchain(v) if isinstance(v, OrisMessage) else v for v in value]
        return value

    return {key: convert(value) for key, value in state.items()}


# -- the node's config for LangChain calls, and token streaming ------------------


def enter(task: Any) -> Any:
    """Hand the running task's config to LangChain calls made inside the node.

    Sets LangChain's own context variable, as LangGraph does, so a chat model
    called without a config (``await model.ainvoke(messages)``) still sees the
    node's metadata and, when the run streams ``messages``, a callback handler
    that puts its tokens on that stream.

    Returns:
        A token for :func:`leave`, or ``None`` when LangChain is not loaded.
    """
    config_module = sys.modules.get("langchain_core.runnables.config")
    if config_module is None:
        return None
    return config_module.var_child_runnable_config.set(_NodeConfig(task))


def node_config(task: Any) -> dict[str, Any]:
    """The ``config`` argument of a node or branch that takes one.

    With LangChain loaded, the config LangChain calls in the node see (the run's
    callbacks and, when streaming ``messages``, the stream's handler), so passing
    it on explicitly (``model.invoke(messages, config)``) keeps streaming.
    """
    module = sys.modules.get("langchain_core.runnables.config")
    if module is not None:
        current = module.var_child_runnable_config.get()
        if isinstance(current, _NodeConfig) and current.task_is(task):
            return current.copy()
    config: dict[str, Any] = task.config()
    return config


def _node_config(task: Any) -> dict[str, Any]:
    config: dict[str, Any] = task.config()
    run = task.run
    if "messages" in run.modes:
        handler = _handler_class()(run)
        callbacks = config.get("callbacks")
        if callbacks is None:
            config["callbacks"] = [handler]
        elif isinstance(callbacks, list):
            config["callbacks"] = [*callbacks, handler]
        else:  # a callback manager
            manager = callbacks.copy()
            manager.add_handler(handler, inherit=True)
            config["callbacks"] = manager
    if run.events is not None:  # astream_events: the chat model's events
        config["callbacks"] = event_callbacks(task, run.events, config)
    return config


class _NodeConfig(dict[str, Any]):
    """The node's config for LangChain, built when LangChain first reads it.

    Every task of a process that imported LangChain gets one; most nodes never
    call LangChain, so the config (ids, metadata, the stream handler) is only
    built on the first read. LangChain reads the context variable with
    ``get()``, a truth test and ``items()``; every read method fills it first.
    """

    __slots__ = ("_owner", "_task")

    def __init__(self, task: Any) -> None:
        super().__init__()
        self._owner = task
        self._task = task

    def task_is(self, task: Any) -> bool:
        """Whether this is (or was, once filled) the config of ``task``."""
        return self._owner is task

    def _fill(self) -> None:
        task = self._task
        if task is not None:
            self._task = None
            self.update(_node_config(task))

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __iter__(self) -> Any:
        self._fill()
        return super().__iter__()

    def __contains__(self, key: object) -> bool:
        self._fill()
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        self._fill()
        return super().__getitem__(key)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return super().__eq__(other)

    def __repr__(self) -> str:
        self._fill()
        return super().__repr__()

    def get(self, key: str, default: Any = None) -> Any:
        self._fill()
        return super().get(key, default)

    def items(self) -> Any:
        self._fill()
        return super().items()

    def keys(self) -> Any:
        self._fill()
        return super().keys()

    def values(self) -> Any:
        self._fill()
        return super().values()

    def copy(self) -> dict[str, Any]:
        self._fill()
        return dict(super().items())


def leave(token: Any) -> None:
    """Undo :func:`enter`."""
    if token is not None:
        token.var.reset(token)


_handler: type | None = None


def _handler_class() -> type:
    """The callback handler class (defined once LangChain is loaded)."""
    global _handler
    if _handler is not None:
        return _handler
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk

    class MessagesStreamHandler(BaseCallbackHandler):
        """Puts chat-model tokens (and whole replies) on the ``messages`` stream.

        Chunks carry the metadata LangChain gives the model run: the node's
        ``langgraph_*`` keys merged with the model's own (``ls_provider`` ...).
        """

        # run in the model's thread, in order, like LangGraph's handler
        run_inline = True

        def __init__(self, run: Any) -> None:
            super().__init__()
            self.run = run
            self.metadata: dict[Any, dict[str, Any]] = {}

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

        def on_chat_model_start(
            self,
            serialized: Any,
            messages: Any,
            *,
            run_id: Any,
            tags: list[str] | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            quiet = bool(tags) and "nostream" in (tags or ())
            if metadata and "langgraph_node" in metadata and not quiet:
                self.metadata[run_id] = metadata

        def on_llm_new_token(
            self, token: Any, *, chunk: Any = None, run_id: Any, **kwargs: Any
        ) -> None:
            meta = self.metadata.get(run_id)
            if meta is not None and isinstance(chunk, ChatGenerationChunk):
                self._emit(chunk.message, meta, dedupe=False)

        def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
            meta = self.metadata.pop(run_id, None)
            if meta is None or not response.generations:
                return
            generations = response.generations[0]
            if generations and isinstance(generations[0], ChatGeneration):
                self._emit(generations[0].message, meta, dedupe=True)

        def on_llm_error(self, error: Any, *, run_id: Any, **kwargs: Any) -> None:
            self.metadata.pop(run_id, None)

        def _emit(self, message: Any, meta: dict[str, Any], *, dedupe: bool) -> None:
            if message.id is None:
                message.id = new_id()
            if dedupe and message.id in self.run.streamed:
                return
            self.run.stream_message(message, meta)

    _handler = MessagesStreamHandler
    return _handler
