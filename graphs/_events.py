"""``astream_events(version="v2")``: LangChain's run events, made by the engine.

LangGraph gets these events from LangChain's callbacks; ``graphs`` makes the
graph's and the nodes' own (``on_chain_start`` / ``on_chain_stream`` /
``on_chain_end``) itself, so they need no LangChain. A LangChain chat model
called in a node reports to a callback handler the node's config carries (only
when the program imported LangChain), which turns its callbacks into
``on_chat_model_*`` events with the same run lineage.

The events of a whole call, subgraphs included, go to the root run's outbox as
chunks of the internal ``events`` mode; the driver hands them over as they come.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphs._loop import Run
    from graphs._outbox import Outbox
    from graphs._task import Task

__all__ = ["EVENTS", "EventFilter", "EventStream", "GraphEvents"]

EVENTS = "events"  # the outbox mode of event chunks
_GRAPH_METADATA = {"ls_integration": "langgraph"}


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFilter:
    """``include_*`` / ``exclude_*`` of ``astream_events``, as LangChain applies
    them: any include matches (none given: everything), then every exclude."""

    include_names: Sequence[str] | None = None
    include_types: Sequence[str] | None = None
    include_tags: Sequence[str] | None = None
    exclude_names: Sequence[str] | None = None
    exclude_types: Sequence[str] | None = None
    exclude_tags: Sequence[str] | None = None

    def keeps(self, event: dict[str, Any], run_type: str) -> bool:
        """Whether ``event`` (of a run of ``run_type``) is streamed."""
        tags = event["tags"]
        wanted = [self.include_names, self.include_types, self.include_tags]
        keep = all(w is None for w in wanted)
        if self.include_names is not None:
            keep = keep or event["name"] in self.include_names
        if self.include_types is not None:
            keep = keep or run_type in self.include_types
        if self.include_tags is not None:
            keep = keep or any(t in self.include_tags for t in tags)
        if self.exclude_names is not None and event["name"] in self.exclude_names:
            return False
        if self.exclude_types is not None and run_type in self.exclude_types:
            return False
        if self.exclude_tags is not None and any(t in self.exclude_tags for t in tags):
            return False
        return keep


class EventStream:
    """The events of one ``astream_events`` call (shared by its subgraph runs)."""

    def __init__(self, out: Outbox, keep: EventFilter) -> None:
        self.out = out
        self.keep = keep
        # run id -> its parents' run ids (graphs, nodes, chat models)
        self.lineage: dict[str, list[str]] = {}

    def send(
        self,
        kind: str,
        run_type: str,
        run_id: str,
        name: str,
        tags: list[str],
        metadata: dict[str, Any],
        data: dict[str, Any],
    ) -> None:
        """Queue one event (unless filtered out)."""
        event = {
            "event": f"on_{run_type}_{kind}",
            "data": data,
            "name": name,
            "tags": tags,
            "run_id": run_id,
            "metadata": metadata,
            "parent_ids": self.lineage.get(run_id, []),
        }
        if self.keep.keeps(event, run_type):
            self.out.put(((), EVENTS, event))


class GraphEvents:
    """The events of one graph run: the graph's chain and its nodes' chains.

    Args:
        stream: The call's event stream.
        parents: Run ids above this graph (the nodes and graphs it runs in).
        tags: The graph run's tags.
        metadata: The graph run's metadata.
        inherited: Tags the nodes inherit (the config's).
        streamed: The graph is streamed (nodes send ``on_chain_stream``), as
            LangGraph streams a root graph and a subgraph node, not a graph a
            node invokes.
    """

    def __init__(
        self,
        stream: EventStream,
        parents: list[str],
        tags: list[str],
        metadata: dict[str, Any],
        inherited: list[str],
        streamed: bool,
    ) -> None:
        self.stream = stream
        self.run_id = str(uuid.uuid4())
        stream.lineage[self.run_id] = parents
        self.tags = tags
        self.metadata = metadata
        self.inherited = inherited
        self.streamed = streamed
        self.nodes: dict[Task, tuple[str, Any]] = {}  # running task -> run id, input

    @classmethod
    def root(cls, stream: EventStream, config: dict[str, Any]) -> GraphEvents:
        """The events of the graph ``astream_events`` runs."""
        tags = list(config.get("tags") or ())
        metadata = dict(config.get("metadata") or {})
        thread_id = (config.get("configurable") or {}).get("thread_id")
        if thread_id is not None:
            metadata.setdefault("thread_id", thread_id)
        return cls(stream, [], tags, {**metadata, **_GRAPH_METADATA}, tags, True)

    def child(self, task: Task, ns: str) -> GraphEvents:
        """The events of a graph run (namespace ``ns``) inside ``task`` (a
        subgraph node, or a graph the node invokes), below the node's run."""
        node_id = self.nodes[task][0] if task in self.nodes else self.run_id
        parents = [*self.stream.lineage[node_id], node_id]
        metadata = {**task.metadata(task.run.step + 1), **_GRAPH_METADATA}
        metadata["checkpoint_ns"] = ns  # as LangChain copies it from the config
        tags = ["seq:step:1", *self.inherited]
        return GraphEvents(self.stream, parents, tags, metadata, self.inherited, True)

    def graph(self, kind: str, name: str, data: dict[str, Any]) -> None:
        """An event of the graph's own run."""
        stream = self.stream
        stream.send(kind, "chain", self.run_id, name, self.tags, self.metadata, data)

    def node_start(self, task: Task) -> None:
        """``on_chain_start`` of a node (each attempt is a run of its own)."""
        run_id = str(uuid.uuid4())
        self.stream.lineage[run_id] = [*self.stream.lineage[self.run_id], self.run_id]
        inp = task.arg if task.push else task.run.read_state()
        self.nodes[task] = (run_id, inp)
        self._node("start", task, run_id, {"input": inp})

    def node_end(self, task: Task) -> None:
        """``on_chain_stream`` (when streamed) and ``on_chain_end`` of a node."""
        run_id, inp = self.nodes.pop(task)
        output = task.update
        if self.streamed:
            self._node("stream", task, run_id, {"chunk": output})
        self._node("end", task, run_id, {"output": output, "input": inp})

    def node_run_id(self, task: Task) -> str | None:
        """The run id of ``task``'s current attempt (while it runs)."""
        entry = self.nodes.get(task)
        return None if entry is None else entry[0]

    def _node(self, kind: str, task: Task, run_id: str, data: dict[str, Any]) -> None:
        step = task.run.step + 1
        meta = {**task.metadata(step), **_GRAPH_METADATA}
        if task.run.ns:  # in a subgraph, as LangChain copies it from the config
            meta["checkpoint_ns"] = task.run.ns
        tags = [f"graph:step:{step}", *self.inherited]
        self.stream.send(kind, "chain", run_id, task.name, tags, meta, data)


def graph_events(run: Run) -> GraphEvents | None:
    """The events of ``run``: a child's below its parent task's node run."""
    parent = run.parent
    if parent is None:
        return None
    above = parent.run.events
    return None if above is None else above.child(parent, run.ns)


def callbacks(task: Task, events: GraphEvents, config: dict[str, Any]) -> Any:
    """The node config's ``callbacks`` that turn a chat model's callbacks into
    events: a LangChain callback manager whose parent run is the node's."""
    from langchain_core.callbacks import AsyncCallbackManager, BaseCallbackManager

    node_id = events.node_run_id(task)
    handler = _handler_class()(events.stream)
    theirs = config.get("callbacks")
    if isinstance(theirs, BaseCallbackManager):
        copied = theirs.copy()
        copied.add_handler(handler, inherit=True)
        return copied
    manager = AsyncCallbackManager(
        handlers=[handler],
        inheritable_handlers=[handler],
        parent_run_id=None if node_id is None else uuid.UUID(node_id),
        tags=["seq:step:1"],
        # as LangChain runs below LangGraph's node run inherit it
        metadata=dict(_GRAPH_METADATA),
        inheritable_metadata=dict(_GRAPH_METADATA),
    )
    if isinstance(theirs, list):
        for other in theirs:
            manager.add_handler(other, inherit=True)
    return manager


_handler: type | None = None


def _handler_class() -> type:
    """The callback handler class (defined once LangChain is loaded)."""
    global _handler
    if _handler is not None:
        return _handler
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk

    class EventsHandler(BaseCallbackHandler):
        """Sends the runs LangChain reports from inside a node (chat models,
        chains such as ``prompt | model``, prompts, parsers, tools) as their
        ``on_<type>_start`` / ``_stream`` / ``_end`` events."""

        run_inline = True  # in the model's thread, in order

        def __init__(self, stream: EventStream) -> None:
            super().__init__()
            self.stream = stream
            # run id -> run type, name, tags, metadata, input
            self.runs: dict[str, tuple[str, str, list[str], dict[str, Any], Any]] = {}
            self.tapped: set[str] = set()  # runs whose output chunks are streamed
            self.tool_calls: dict[str, Any] = {}  # tool run id -> its tool call id

        async def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            # a runnable streamed in a node: its chunks as on_<type>_stream
            # (LangChain's rule: only the first handler to tap a run sends them)
            rid = str(run_id)
            first = rid not in self.tapped
            self.tapped.add(rid)
            async for chunk in output:
                if first:
                    self._send("stream", rid, {"chunk": chunk})
                yield chunk

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            rid = str(run_id)
            first = rid not in self.tapped
            self.tapped.add(rid)
            for chunk in output:
                if first:
                    self._send("stream", rid, {"chunk": chunk})
                yield chunk

        def _start(
            self,
            run_type: str,
            serialized: Any,
            data: dict[str, Any],
            inp: Any,
            kwargs: dict[str, Any],
        ) -> None:
            rid, parent = str(kwargs["run_id"]), kwargs.get("parent_run_id")
            lineage = self.stream.lineage
            if parent is None:
                lineage[rid] = []
            else:
                lineage[rid] = [*lineage.get(str(parent), []), str(parent)]
            name = kwargs.get("name") or (serialized or {}).get("name")
            if name is None:
                name = ((serialized or {}).get("id") or ["Unnamed"])[-1]
            tags = list(kwargs.get("tags") or ())
            meta = dict(kwargs.get("metadata") or {})
            self.runs[rid] = (run_type, name, tags, meta, inp)
            self._send("start", rid, data)

        def _end(self, run_id: Any, output: Any, inp: Any = None) -> None:
            rid = str(run_id)
            entry = self.runs.get(rid)
            if entry is not None:
                data = {"output": output, "input": inp or entry[4] or {}}
                self._send("end", rid, data)
                del self.runs[rid]

        def on_chat_model_start(
            self, serialized: Any, messages: Any, **kwargs: Any
        ) -> None:
            inp = {"messages": messages}
            self._start("chat_model", serialized, {"input": inp}, inp, kwargs)

        def on_llm_new_token(
            self, token: Any, *, chunk: Any = None, run_id: Any, **kwargs: Any
        ) -> None:
            rid = str(run_id)
            if isinstance(chunk, ChatGenerationChunk) and rid not in self.tapped:
                self._send("stream", rid, {"chunk": chunk.message})

        def on_llm_end(self, response: Any, *, run_id: Any, **kwargs: Any) -> None:
            generations = response.generations[0] if response.generations else []
            output = None
            if generations and isinstance(generations[0], ChatGeneration):
                output = generations[0].message
            self._end(run_id, output)

        def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
            # LangChain's rule: a streamed input ({"input": ""}) is not shown
            shown = {} if inputs == {"input": ""} else {"input": inputs}
            run_type = kwargs.get("run_type") or "chain"
            self._start(run_type, serialized, shown, shown.get("input"), kwargs)

        def on_chain_end(
            self, outputs: Any, *, run_id: Any, inputs: Any = None, **kwargs: Any
        ) -> None:
            self._end(run_id, outputs, inputs)

        def on_tool_start(
            self,
            serialized: Any,
            input_str: str,
            *,
            inputs: Any = None,
            **kwargs: Any,
        ) -> None:
            self.tool_calls[str(kwargs["run_id"])] = kwargs.get("tool_call_id")
            self._start("tool", serialized, {"input": inputs or {}}, inputs, kwargs)

        def on_tool_end(self, output: Any, *, run_id: Any, **kwargs: Any) -> None:
            self.tool_calls.pop(str(run_id), None)
            self._end(run_id, output)

        def on_llm_error(self, error: Any, *, run_id: Any, **kwargs: Any) -> None:
            self.runs.pop(str(run_id), None)

        def on_chain_error(self, error: Any, *, run_id: Any, **kwargs: Any) -> None:
            self.runs.pop(str(run_id), None)

        def on_tool_error(self, error: Any, *, run_id: Any, **kwargs: Any) -> None:
            rid = str(run_id)
            call_id = self.tool_calls.pop(rid, None)
            entry = self.runs.get(rid)
            if entry is not None:
                data = {
                    "error": error,
                    "input": entry[4],
                    "tool_call_id": kwargs.get("tool_call_id", call_id),
                }
                self._send("error", rid, data)
            self.runs.pop(rid, None)

        def _send(self, kind: str, rid: str, data: dict[str, Any]) -> None:
            entry = self.runs.get(rid)
            if entry is not None:
                run_type, name, tags, meta, _ = entry
                self.stream.send(kind, run_type, rid, name, tags, meta, data)

    _handler = EventsHandler
    return _handler
