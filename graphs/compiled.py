"""CompiledGraph: the runnable graph (invoke, stream, run, state API)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, is_typeddict

from graphs._caching import node_namespace
from graphs._config import merge_configs
from graphs._exec import adrive, drive
from graphs._handlers import with_defaults
from graphs._jsonschema import config_schema, context_schema, state_schema
from graphs._langchain_run import is_runnable, runnable_calls
from graphs._loop import Run
from graphs._options import RunOptions
from graphs._running import RunAPI, child_result
from graphs._state_api import StateAPI
from graphs._task import Task
from graphs._work import command_output
from graphs.cache.base import BaseCache, CachePolicy, Namespace
from graphs.channels import ROOT, initial_values
from graphs.checkpoint.base import BaseCheckpointSaver
from graphs.drawing import DrawableGraph, build_drawable
from graphs.errors import InvalidUpdateError
from graphs.runtime import takes_runtime
from graphs.state import call_signature, positional_config
from graphs.store.base import BaseStore, takes_store
from graphs.types import START, Command, RetryPolicy, TimeoutPolicy

if TYPE_CHECKING:
    from graphs.state import StateGraph

__all__ = ["BranchRuntime", "CompiledGraph", "NodeRuntime"]


@dataclass(slots=True, frozen=True)
class BranchRuntime:
    """A conditional edge prepared for execution."""

    path: Callable[..., Any]
    path_map: dict[Any, str] | None
    is_async: bool
    takes_config: bool


@dataclass(slots=True, frozen=True)
class NodeRuntime:
    """A node prepared for execution (edges and triggers precomputed)."""

    name: str
    fn: Any
    is_async: bool = False
    takes_config: bool = False
    takes_writer: bool = False
    retry: tuple[RetryPolicy, ...] = ()
    edges: tuple[str, ...] = ()
    joins: tuple[int, ...] = ()
    branches: tuple[BranchRuntime, ...] = ()
    subgraph: CompiledGraph | None = None
    timeout: TimeoutPolicy | None = None
    afn: Any = None  # what the async driver calls instead (a Runnable's ainvoke)
    error_handler: str | None = None  # the node run when this one fails
    takes_error: bool = False  # an ``error: NodeError`` parameter (a handler)
    takes_store: bool = False  # a ``store`` parameter (graphs.store)
    takes_runtime: bool = False  # a ``runtime`` parameter (graphs.runtime)
    cache_policy: CachePolicy | None = None  # add_node(cache_policy=...)


class CompiledGraph(RunAPI, StateAPI):
    """A validated graph, ready to run. Built by :meth:`StateGraph.compile`."""

    # compile(store=...); ``copy({"store": ...})`` binds another one
    store: BaseStore | None = None
    # compile(cache=...): cached node writes (graphs.cache), not inherited
    cache: BaseCache[Any] | None = None

    def __init__(
        self,
        builder: StateGraph,
        checkpointer: BaseCheckpointSaver | None | bool,
        interrupt_before: tuple[str, ...],
        interrupt_after: tuple[str, ...],
        name: str,
    ) -> None:
        self.builder = builder
        self.checkpointer = checkpointer
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after
        self.name = name
        # Defaults set by with_config(); each call's config is merged over them.
        self.config: dict[str, Any] | None = None
        self.channels = builder.channels
        self.output_keys = builder.output_keys
        self.input_keys = builder.input_keys
        schema = builder.state_schema
        self.root = set(self.channels) == {ROOT}
        self.state_factory: Callable[[dict[str, Any]], Any] | None = (
            (lambda v: v.get(ROOT))
            if self.root
            else None
            if schema is dict or is_typeddict(schema)
            else lambda v: schema(**v)
        )
        self.joins = [(frozenset(srcs), dst) for srcs, dst in builder.joins]
        self.join_keys = [f"join:{'+'.join(s)}:{d}" for s, d in builder.joins]
        self.node_order = {name: i for i, name in enumerate(builder.nodes)}
        self.deferred_nodes = frozenset(n for n, s in builder.nodes.items() if s.defer)
        self.nodes_rt: dict[str, NodeRuntime] = {}
        cache_default = builder.node_defaults.cache_policy
        for name in builder.nodes:
            prepared = with_defaults(builder, name, self._prepare(name))
            policy = builder.nodes[name].cache_policy or cache_default
            if policy is not None:
                prepared = replace(prepared, cache_policy=policy)
            self.nodes_rt[name] = prepared
        self.error_handlers = any(n.error_handler for n in self.nodes_rt.values())
        self.start_node = self._prepare(START)
        self.start_goto = NodeRuntime(START, None)
        self._initial = initial_values(self.channels)

    def _prepare(self, name: str) -> NodeRuntime:
        b = self.builder
        edges = tuple(dict.fromkeys(d for s, d in b.edges if s == name))
        joins = tuple(i for i, (srcs, _) in enumerate(b.joins) if name in srcs)
        branches = []
        for br in b.branches:
            if br.source == name:
                if is_runnable(br.path):  # LangChain Runnable: invoke(state, config)
                    path, _ = runnable_calls(br.path)
                    branches.append(BranchRuntime(path, br.path_map, False, True))
                    continue
                is_async, takes_config, _ = call_signature(br.path)
                branches.append(
                    BranchRuntime(
                        positional_config(br.path), br.path_map, is_async, takes_config
                    )
                )
        if name == START:
            return NodeRuntime(START, None, edges=edges, branches=tuple(branches))
        spec = b.nodes[name]
        retry = spec.retry_policy
        policies = (
            ()
            if retry is None
            else ((retry,) if isinstance(retry, RetryPolicy) else tuple(retry))
        )
        action = spec.action
        if isinstance(action, CompiledGraph):
            return NodeRuntime(
                name,
                None,
                retry=policies,
                edges=edges,
                joins=joins,
                branches=tuple(branches),
                subgraph=action,
            )
        if is_runnable(action):  # LangChain Runnable: (a)invoke(state, config)
            call, acall = runnable_calls(action)
            return NodeRuntime(
                name,
                call,
                False,
                True,
                False,
                policies,
                edges,
                joins,
                tuple(branches),
                timeout=spec.timeout,
                afn=acall,
            )
        is_async, takes_config, takes_writer = call_signature(action)
        return NodeRuntime(
            name,
            positional_config(action),
            is_async,
            takes_config,
            takes_writer,
            policies,
            edges,
            joins,
            tuple(branches),
            timeout=spec.timeout,
            takes_store=takes_store(action),
            takes_runtime=takes_runtime(action),
        )

    # -- plumbing used by the loop -----------------------------------------------

    def initial_values(self) -> dict[str, Any]:
        """Fresh initial values of reduced channels (empty list, dict, ...)."""
        return {
            k: (copy.copy(v) if isinstance(v, (list, dict, set)) else v)
            for k, v in self._initial.items()
        }

    def node_runtime(self, name: str) -> NodeRuntime:
        """Return the prepared node ``name``."""
        try:
            return self.nodes_rt[name]
        except KeyError:
            raise InvalidUpdateError(f"unknown node {name!r}") from None

    def resolve_saver(self, parent: Task | None) -> BaseCheckpointSaver | None:
        """The saver of a run: own, inherited from the parent graph, or none."""
        saver = self.checkpointer
        if saver is False:
            return None
        if isinstance(saver, BaseCheckpointSaver):
            return saver
        if parent is not None:
            return parent.run.saver
        return None

    def instance_fields(self, value: Any) -> dict[str, Any] | None:
        """Fields of a dataclass / pydantic-like state instance, else ``None``."""
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return dict(dump())
        return None

    def input_writes(
        self, inp: Any
    ) -> tuple[list[tuple[str, Any]], list[str], list[Any]]:
        """Writes, gotos and sends of the input (the START task)."""
        keys = self.input_keys or self.channels
        if self.root and not isinstance(inp, Command):
            return [(ROOT, inp)], [], []
        if isinstance(inp, Command):
            task_like = _Collector(self)
            command_output(task_like, inp)  # type: ignore[arg-type]
            return task_like.writes, task_like.gotos, task_like.sends
        if isinstance(inp, dict):
            return [(k, v) for k, v in inp.items() if k in keys], [], []
        fields = self.instance_fields(inp)
        if fields is None:
            raise InvalidUpdateError(f"Expected dict input, got {type(inp).__name__}")
        return list(fields.items()), [], []

    def copy(self, update: dict[str, Any] | None = None) -> CompiledGraph:
        """A cheap copy sharing the compiled structure, with the attributes in
        ``update`` replaced (LangGraph's ``copy``)."""
        clone = copy.copy(self)
        for key, value in (update or {}).items():
            setattr(clone, key, value)
        return clone

    def with_checkpointer(self, saver: BaseCheckpointSaver | None) -> CompiledGraph:
        """A cheap copy sharing the compiled structure, bound to another saver.

        The copy keeps the default config set by :meth:`with_config`.
        """
        clone = copy.copy(self)
        clone.checkpointer = saver
        return clone

    def with_config(
        self, config: dict[str, Any] | None = None, **kwargs: Any
    ) -> CompiledGraph:
        """A cheap copy whose default config is merged under every call's config.

        Example: ``graph.with_config(recursion_limit=50)``. The defaults apply to
        ``invoke``/``stream``/``run``, the state API and runs as a subgraph;
        values given per call win (``configurable`` and ``metadata`` are merged
        key by key). Calls chain: later defaults win over earlier ones.

        Args:
            config: Default config (``recursion_limit``, ``configurable``, ...).
            **kwargs: More default config keys, e.g. ``recursion_limit=50``.

        Returns:
            A new :class:`CompiledGraph` sharing this one's compiled structure.
        """
        clone = copy.copy(self)
        clone.config = merge_configs(self.config, config, kwargs)
        return clone

    def merged_config(self, config: dict[str, Any] | None) -> dict[str, Any] | None:
        """``config`` over this graph's defaults (``config`` itself if none)."""
        return merge_configs(self.config, config) if self.config else config

    def get_graph(
        self, config: dict[str, Any] | None = None, *, xray: int | bool = False
    ) -> DrawableGraph:
        """The graph's nodes and edges (``.draw_mermaid()``, ``.to_json()``).

        Args:
            config: Accepted for LangGraph compatibility; unused.
            xray: Draw subgraph nodes as their own nodes and edges: ``True`` at
                every depth, a number for that many levels.
        """
        return build_drawable(self, xray)

    def get_input_jsonschema(
        self, config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON schema of the graph's input, as LangGraph gives it (see
        :mod:`graphs._jsonschema`); ``config`` is unused."""
        return state_schema(self.builder.input_schema, f"{self.name}Input")

    def get_output_jsonschema(
        self, config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON schema of the graph's output, as LangGraph gives it."""
        return state_schema(self.builder.output_schema, f"{self.name}Output")

    def get_state_jsonschema(self) -> dict[str, Any]:
        """The JSON schema of the graph's state (every channel of the builder's
        state schema)."""
        return state_schema(self.builder.state_schema, f"{self.name}State")

    def get_context_jsonschema(self) -> dict[str, Any] | None:
        """The JSON schema of the builder's ``context_schema`` (``None``: none)."""
        return context_schema(self.builder.context_schema)

    def get_config_jsonschema(
        self, config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JSON schema of the graph's config, as LangGraph gives it: the
        context schema under ``configurable``; ``config`` is unused."""
        name = self.name
        title = f"{name}Config" if name[:1].isupper() else f"{name}_config"
        return config_schema(self.builder.context_schema, title)

    # -- the node cache ---------------------------------------------------------------

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Delete the cached writes of ``nodes`` (default: every node).

        Raises:
            ValueError: When the graph was compiled without a cache.
        """
        self._cache().clear(self._cache_namespaces(nodes))

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Async :meth:`clear_cache`."""
        await self._cache().aclear(self._cache_namespaces(nodes))

    def _cache(self) -> BaseCache[Any]:
        if self.cache is None:
            raise ValueError("No cache is set for this graph. Cannot clear cache.")
        return self.cache

    def _cache_namespaces(self, nodes: Sequence[str] | None) -> list[Namespace]:
        names = self.builder.nodes if nodes is None else nodes
        return [node_namespace(self, n) for n in names if n in self.builder.nodes]

    # -- as a subgraph ----------------------------------------------------------------

    def child_run(
        self,
        task: Task,
        inp: Any,
        config: dict[str, Any] | None = None,
        options: RunOptions | None = None,
    ) -> Run:
        """A run of this graph as a child of the running ``task``: on the
        parent's thread (namespace ``node:task_id``), saver and stream.

        Args:
            task: The parent's running task.
            inp: The child's input.
            config: Config given to the child's ``invoke`` (its thread keys are
                the parent's).
            options: The child's options (default: inherited from the parent).
        """
        parent = task.run
        conf = {
            **(config or {}).get("configurable", {}),
            **parent.config.get("configurable", {}),
        }
        conf.pop("checkpoint_id", None)
        conf["checkpoint_ns"] = self.child_ns(parent.ns, task.name, task.id)
        merged = {**parent.config, **(config or {}), "configurable": conf}
        inherited = parent.options.for_child()
        if options is not None:
            context = options.context
            inherited = replace(
                inherited,
                interrupt_before=options.interrupt_before,
                interrupt_after=options.interrupt_after,
                context=inherited.context if context is None else context,
            )
        return Run(self, inp, self.merged_config(merged), inherited, task)

    def child_ns(self, parent_ns: str, name: str, task_id: str) -> str:
        """The namespace of this graph's run as the node ``name`` of a parent: a
        stateful subgraph (``compile(checkpointer=True)``) keeps one thread per
        node, across the parent's steps and runs; any other starts afresh."""
        own = name if self.checkpointer is True else f"{name}:{task_id}"
        return f"{parent_ns}|{own}" if parent_ns else own

    def call_as_subgraph(self, task: Task, inp: Any) -> Any:
        """Run as the node of a parent graph (sync); an interrupt in the child
        pauses the parent, ``Command.PARENT`` raises ``ParentCommand``."""
        child = self.child_run(task, inp)
        for _ in drive(child):
            pass
        return child_result(child)

    async def acall_as_subgraph(self, task: Task, inp: Any) -> Any:
        """Run as the node of a parent graph (async)."""
        child = self.child_run(task, inp)
        async for _ in adrive(child):
            pass
        return child_result(child)


class _Collector:
    """Stands in for a task when a ``Command`` is given as input."""

    def __init__(self, graph: CompiledGraph) -> None:
        self.name = START
        self.run = _FakeRun(graph)
        self.writes: list[tuple[str, Any]] = []
        self.gotos: list[str] = []
        self.sends: list[Any] = []
        self.update: Any = None


class _FakeRun:
    def __init__(self, graph: CompiledGraph) -> None:
        self.graph = graph
