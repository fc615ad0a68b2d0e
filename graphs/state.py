"""StateGraph: the builder (nodes, edges, branches) and its validation."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin, get_type_hints

from graphs._timeouts import timeout_policy
from graphs.cache.base import BaseCache, CachePolicy
from graphs.channels import channels_from_schema
from graphs.checkpoint.base import BaseCheckpointSaver
from graphs.errors import InvalidGraphError
from graphs.types import END, START, Command, RetryPolicy, TimeoutPolicy, node_name

if TYPE_CHECKING:
    from graphs.compiled import CompiledGraph

__all__ = ["DEFAULT_ERROR_HANDLER", "Branch", "NodeDefaults", "NodeSpec", "StateGraph"]

_RESERVED = ("|", ":")


@dataclass(slots=True)
class NodeSpec:
    """A node as declared: its action and policies."""

    name: str
    action: Any
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None
    defer: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    destinations: tuple[str, ...] = ()
    timeout: TimeoutPolicy | None = None
    error_handler: str | None = None  # the handler node of this node's failures
    is_error_handler: bool = False
    cache_policy: CachePolicy | None = None


@dataclass(slots=True)
class NodeDefaults:
    """Policies of every node without its own (``set_node_defaults``)."""

    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None
    error_handler: Any = None
    timeout: TimeoutPolicy | None = None
    cache_policy: CachePolicy | None = None


DEFAULT_ERROR_HANDLER = "__default_error_handler__"
_UNSUPPORTED = ("input_schema", "trace_policy")


@dataclass(slots=True)
class Branch:
    """A conditional edge: ``path(state)`` picks the next node(s)."""

    source: str
    path: Callable[..., Any]
    path_map: dict[Hashable, str] | None
    targets: tuple[str, ...] | None  # known destinations, for drawing


def _warn_unsupported(where: str, option: str) -> None:
    known = "not supported by graphs" if option in _UNSUPPORTED else "unknown"
    message = f"{where}({option}=...) is {known}; ignored"
    warnings.warn(message, UserWarning, stacklevel=3)


def _check_subgraph_timeout(name: str, action: Any) -> None:
    if hasattr(action, "call_as_subgraph"):
        # a subgraph's own nodes can carry timeouts; abandoning a whole subgraph
        # run mid-superstep would leave its checkpoints half written
        raise InvalidGraphError(f"node {name!r}: a subgraph node cannot have a timeout")


def _name_of(action: Any) -> str:
    name = getattr(action, "name", None) or getattr(action, "__name__", None)
    if not isinstance(name, str):
        name = type(action).__name__
    return name


def _literal_targets(path: Callable[..., Any]) -> tuple[str, ...] | None:
    """Targets named by a ``-> Literal[...]`` (or ``-> Command[Literal[...]]``)
    return annotation, for drawing."""
    try:
        ret = get_type_hints(path).get("return")
    except Exception:
        return None
    if ret is not None and get_origin(ret) is Command:
        ret = get_args(ret)[0] if get_args(ret) else None
    if ret is not None and get_origin(ret) is Literal:
        return tuple(node_name(a) for a in get_args(ret))
    return None


class StateGraph:
    """A graph whose nodes read and update a shared state.

    Args:
        state_schema: ``TypedDict``, dataclass or pydantic-like class; each key is a
            channel, ``Annotated[T, reducer]`` keys are reduced.
        context_schema: Kept for ``get_context_jsonschema``; no context reaches
            the nodes (``Runtime`` is not built).
        input_schema: Keys accepted as input (default: the state schema).
        output_schema: Keys returned by ``invoke`` (default: the state schema).

    Example:
        >>> class S(TypedDict):
        ...     n: int
        >>> g = StateGraph(S)
        >>> g.add_node("inc", lambda s: {"n": s["n"] + 1})
        >>> g.add_edge(START, "inc")
        >>> g.compile().invoke({"n": 1})
        {'n': 2}
    """

    def __init__(
        self,
        state_schema: Any,
        context_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        **_: Any,
    ) -> None:
        self.state_schema = state_schema
        self.input_schema = input_schema or state_schema  # as LangGraph names it
        self.output_schema = output_schema or state_schema
        self.context_schema = context_schema
        self.channels = channels_from_schema(state_schema)
        self.input_keys = (
            tuple(channels_from_schema(input_schema)) if input_schema else None
        )
        self.output_keys = (
            tuple(channels_from_schema(output_schema)) if output_schema else None
        )
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.branches: list[Branch] = []
        self.definition_options: dict[str, Any] = {}
        self.node_defaults = NodeDefaults()

    def set_node_defaults(
        self,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        cache_policy: CachePolicy | None = None,
        error_handler: Any = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
    ) -> StateGraph:
        """Policies for every node that has none of its own (LangGraph's).

        Applied at :meth:`compile`; a value given to :meth:`add_node` wins.
        ``retry_policy`` and ``timeout`` also apply to error-handler nodes,
        ``error_handler`` only to the other nodes (a handler that fails fails
        the run). Subgraphs do not inherit them; a subgraph node takes no
        ``timeout``.

        Args:
            retry_policy: Default retry policy.
            cache_policy: Default :class:`~graphs.cache.CachePolicy` (used when
                the graph is compiled with a ``cache``).
            error_handler: Default error handler (see :meth:`add_node`).
            timeout: Default timeout: seconds, a ``timedelta`` or a
                :class:`~graphs.TimeoutPolicy`.

        Returns:
            The builder, for chaining.
        """
        defaults = self.node_defaults
        if retry_policy is not None:
            defaults.retry_policy = retry_policy
        if cache_policy is not None:
            defaults.cache_policy = cache_policy
        if error_handler is not None:
            defaults.error_handler = error_handler
        if timeout is not None:
            defaults.timeout = timeout_policy("node defaults", timeout)
        return self

    def add_node(
        self,
        node: str | Any,
        action: Any = None,
        *,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
        defer: bool = False,
        metadata: dict[str, Any] | None = None,
        destinations: Sequence[str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | timedelta | TimeoutPolicy | None = None,
        error_handler: Any = None,
        cache_policy: CachePolicy | None = None,
        **options: Any,
    ) -> StateGraph:
        """Add a node: ``add_node("name", fn)`` or ``add_node(fn)``.

        Args:
            node: The node name, or the action itself (named after it).
            action: A function ``(state)`` / ``(state, config)``, sync or async, or a
                compiled graph (a subgraph).
            retry_policy: Retry policy for failures of this node.
            defer: Run only when the graph has nothing else left to run.
            metadata: Free-form metadata (shown in drawings and debug events).
            destinations: Nodes a ``Command(goto=...)`` may reach (for drawing).
            retry: Older LangGraph name of ``retry_policy``.
            timeout: Seconds (or a ``timedelta``) one attempt of a function node may
                run before it fails
                with :class:`~graphs.errors.NodeTimeoutError` (a ``TimeoutError``),
                or a :class:`~graphs.TimeoutPolicy` (wall-clock and idle).
                An async node is cancelled; a sync node runs in its own thread,
                which is abandoned at the deadline (Python cannot kill it: the
                function runs on until it returns, and its result is discarded).
            error_handler: A function ``(state, error: NodeError)`` run in the
                same superstep when the node fails (after its retries); it
                returns an update or a ``Command`` instead of the failed node,
                whose edges are not followed. Added as the node
                ``__error_handler__<name>``.
            cache_policy: Cache the node's writes by its input (a
                :class:`~graphs.cache.CachePolicy`), when the graph is compiled
                with a ``cache``.
            **options: Other LangGraph options (``input_schema``, ...): not
                supported, a warning says so.

        Returns:
            The builder, for chaining.

        Raises:
            InvalidGraphError: On a duplicate, reserved or state-key name, or an
                invalid timeout.
        """
        if action is None and not isinstance(node, str):
            node, action = _name_of(node), node
        if action is None:
            raise InvalidGraphError(f"node {node!r} has no action")
        name = node_name(node)
        if name in (START, END):
            raise InvalidGraphError(f"node name {name!r} is reserved")
        for char in _RESERVED:
            if char in name:
                raise InvalidGraphError(
                    f"node name {name!r} contains the reserved character {char!r}"
                )
        if name in self.nodes:
            raise InvalidGraphError(f"Node `{name}` already present.")
        if name in self.channels:
            raise InvalidGraphError(f"'{name}' is already being used as a state key")
        for option in options:
            _warn_unsupported("add_node", option)
        policy = timeout_policy(name, timeout)
        if policy is not None:
            _check_subgraph_timeout(name, action)
        handler = None
        if error_handler is not None:
            handler = f"__error_handler__{name}"
            if handler in self.nodes:
                raise InvalidGraphError(
                    f"Auto-generated error handler node `{handler}` already exists."
                )
            # before the node, where LangGraph lists it
            spec = NodeSpec(handler, error_handler, is_error_handler=True)
            self.nodes[handler] = spec
        self.nodes[name] = NodeSpec(
            name,
            action,
            retry_policy or retry,
            defer,
            dict(metadata or {}),
            tuple(destinations or _literal_targets(action) or ()),
            policy,
            handler,
            cache_policy=cache_policy,
        )
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Add an edge; ``add_edge([a, b], c)`` waits for both ``a`` and ``b``.

        Raises:
            InvalidGraphError: If the edge starts at END or ends at START.
        """
        end_key = node_name(end_key)
        if isinstance(start_key, str):
            start_key = node_name(start_key)
            if start_key == END:
                raise InvalidGraphError("END cannot be the start of an edge")
            if end_key == START:
                raise InvalidGraphError("START cannot be the end of an edge")
            self.edges.append((start_key, end_key))
            return self
        sources = tuple(node_name(s) for s in start_key)
        if not sources:
            raise InvalidGraphError(f"join edge to {end_key!r} has no sources")
        if START in sources or END in sources or end_key == START:
            raise InvalidGraphError(f"invalid join edge {list(sources)} -> {end_key!r}")
        self.joins.append((sources, end_key))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """Route from ``source`` to the node(s) chosen by ``path(state)``.

        Args:
            source: The node whose completion triggers ``path``.
            path: Returns a node name, ``END``, a :class:`Send`, or a list of them.
            path_map: Maps ``path``'s return values to node names (or lists them).

        Returns:
            The builder, for chaining.
        """
        source = node_name(source)
        mapping: dict[Hashable, str] | None
        if path_map is None:
            mapping = None
        elif isinstance(path_map, dict):
            mapping = {k: node_name(v) for k, v in path_map.items()}
        else:
            mapping = {name: node_name(name) for name in path_map}
        targets = tuple(mapping.values()) if mapping else _literal_targets(path)
        self.branches.append(Branch(source, path, mapping, targets))
        return self

    def add_sequence(self, nodes: Sequence[Any]) -> StateGraph:
        """Add nodes (actions or ``(name, action)`` pairs) chained by edges."""
        if not nodes:
            raise InvalidGraphError("add_sequence needs at least one node")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, action = item
            else:
                name, action = _name_of(item), item
            self.add_node(name, action)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        """Equivalent to ``add_edge(START, key)``."""
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self,
        path: Callable[..., Any],
        path_map: dict[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """Equivalent to ``add_conditional_edges(START, path, path_map)``."""
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        """Equivalent to ``add_edge(key, END)``."""
        return self.add_edge(key, END)

    def validate(
        self, interrupt: Sequence[str] = (), *, label: str = "interrupt node"
    ) -> None:
        """Check the graph; raise :class:`InvalidGraphError` naming the culprit."""
        known = set(self.nodes)
        sources = {s for s, _ in self.edges} | {b.source for b in self.branches}
        for srcs, _ in self.joins:
            sources.update(srcs)
        if START not in sources:
            raise InvalidGraphError(
                "Graph must have an entrypoint: add at least one edge from START "
                "to another node"
            )
        for src in sorted(sources - {START}):
            if src not in known:
                raise InvalidGraphError(f"Found edge starting at unknown node '{src}'")
        targets = [t for _, t in self.edges] + [t for _, t in self.joins]
        for branch in self.branches:
            if branch.path_map:
                targets.extend(branch.path_map.values())
        for node in self.nodes.values():
            targets.extend(node.destinations)
        for dst in targets:
            if dst != END and dst not in known:
                raise InvalidGraphError(f"Found edge ending at unknown node '{dst}'")
        for name in interrupt:
            if name != "*" and name not in known:
                raise InvalidGraphError(f"{label} '{name}' is not a node of the graph")

    def compile(
        self,
        checkpointer: BaseCheckpointSaver | None | bool = None,
        *,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        name: str | None = None,
        debug: bool = False,
        cache: BaseCache[Any] | None = None,
        store: Any = None,
    ) -> CompiledGraph:
        """Validate the graph and return a runnable :class:`CompiledGraph`.

        Args:
            checkpointer: Saver for durable threads (``None``: inherit as a subgraph,
                none at the top level; ``False``: never checkpoint).
            interrupt_before: Nodes (or ``"*"``) to pause before.
            interrupt_after: Nodes (or ``"*"``) to pause after.
            name: Graph name (used in drawings and as a subgraph node name).
            debug: Accepted for compatibility.
            cache: The node cache (:class:`graphs.cache.InMemoryCache`) for nodes
                with a ``cache_policy``; a subgraph uses only its own.
            store: A :class:`graphs.store.BaseStore` for the nodes (a parameter
                named ``store``, or ``get_store()``); subgraphs inherit it.

        Returns:
            The compiled graph.

        Raises:
            InvalidGraphError: If the graph is invalid (the message names the node or
                edge).
            TypeError: If ``checkpointer`` is not a saver (nor ``True``/``False``).
        """
        from graphs.compiled import CompiledGraph

        if not (
            checkpointer is None
            or isinstance(checkpointer, (bool, BaseCheckpointSaver))
        ):
            raise TypeError(
                f"checkpointer must be a BaseCheckpointSaver, True, False or None, "
                f"not {type(checkpointer).__name__}"
            )
        handler = self.node_defaults.error_handler
        if handler is not None and DEFAULT_ERROR_HANDLER not in self.nodes:
            # LangGraph adds it to the builder's nodes at compile time
            self.nodes[DEFAULT_ERROR_HANDLER] = NodeSpec(
                DEFAULT_ERROR_HANDLER, handler, is_error_handler=True
            )
        before = _names(interrupt_before)
        after = _names(interrupt_after)
        self.validate(before, label="interrupt_before node")
        self.validate(after, label="interrupt_after node")
        compiled = CompiledGraph(self, checkpointer, before, after, name or "LangGraph")
        compiled.store = store
        compiled.cache = cache
        return compiled


def _names(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


_BY_NAME = (
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)


def call_signature(fn: Any) -> tuple[bool, bool, bool]:
    """Return ``(is_async, takes_config, takes_writer)`` for a node or path function."""
    target = fn
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)) and callable(fn):
        target = getattr(fn, "__call__", fn)  # noqa: B004
    is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(fn)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return is_async, False, False
    names = {p.name for p in params}
    # LangGraph's rule: the config is passed to a parameter named `config` (a
    # second positional parameter of another name keeps its default)
    takes_config = any(p.name == "config" and p.kind in _BY_NAME for p in params)
    return is_async, takes_config, "writer" in names


def positional_config(fn: Any) -> Any:
    """``fn`` callable as ``fn(state, config)`` wherever its ``config`` parameter is
    (keyword-only, or after other parameters)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn
    at = next((i for i, p in enumerate(params) if p.name == "config"), None)
    if at is None or (at == 1 and params[1].kind is not params[1].KEYWORD_ONLY):
        return fn

    def call(state: Any, config: Any, **kwargs: Any) -> Any:
        return fn(state, config=config, **kwargs)

    return call
