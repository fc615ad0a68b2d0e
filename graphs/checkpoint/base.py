"""The checkpointer (saver) protocol: LangGraph's shapes, JSON storage.

Storage shape (format version 1, mirrored by every saver, including the Django one):

* **checkpoint row** keyed ``(thread_id, checkpoint_ns, checkpoint_id)``: the header
  (the checkpoint JSON *without* ``channel_values``, see
  :func:`~graphs.checkpoint.format.split_checkpoint`), the metadata JSON and the
  parent checkpoint id;
* **blob row** keyed ``(thread_id, checkpoint_ns, channel, version)``: ``type`` +
  ``data``; written only for the channels in ``new_versions``, so a channel's value
  is stored once per version and unchanged channels cost nothing per step. List
  channels that only grew are stored as ``delta`` blobs (the appended items);
* **write row** keyed ``(thread_id, checkpoint_ns, checkpoint_id, task_id, idx)``:
  ``channel``, ``type``, ``data``, ``task_path`` (see
  :func:`~graphs.checkpoint.format.write_rows` for the upsert rule).

Commit rule: on a successful superstep the engine calls only :meth:`put` (one write
per superstep; under ``async`` durability :meth:`put_async`, which may leave the
checkpoint durable only by the time the run returns). :meth:`put_writes` is called
for the writes of tasks that finished when a sibling in the same superstep failed or
interrupted (so that resuming does not re-run them), and for the ``__interrupt__`` /
``__resume__`` / ``__error__`` bookkeeping of the tasks that did not finish.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypedDict

from graphs.effects import EffectRecord

__all__ = [
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "RunnableConfig",
    "checkpoint_config",
    "config_checkpoint_id",
    "config_ns",
    "config_thread_id",
    "mapped",
    "metadata_matches",
]

RunnableConfig = dict[str, Any]
"""``{"configurable": {"thread_id", "checkpoint_ns", "checkpoint_id"}, ...}``."""


class Checkpoint(TypedDict, total=False):
    """A snapshot of a thread (format version 1).

    Keys:
        v: Format version (1).
        id: Unique, time-ordered id (sorts lexicographically).
        ts: ISO 8601 creation time.
        channel_values: Channel name to value (absent from the stored header).
        channel_versions: Channel name to version (the id of the checkpoint that
            last changed it).
        versions_seen: Kept for LangGraph's shape; always ``{}``.
        next: Tasks of the next superstep: ``{"name": node}`` or, for ``Send``,
            ``{"name": node, "arg": value}``.
        barriers: Join key to the source nodes already seen.
        deferred: Deferred nodes waiting for the graph to go idle.
        last: Nodes whose writes produced this checkpoint.
        chain: Channel to ``[delta_depth, full_length, base_version]`` (delta
            bookkeeping).
        deltas: Transient hint for :func:`split_checkpoint`; never stored.
    """

    v: int
    id: str
    ts: str
    channel_values: dict[str, Any]
    channel_versions: dict[str, str]
    versions_seen: dict[str, dict[str, str]]
    next: list[dict[str, Any]]
    barriers: dict[str, list[str]]
    deferred: list[str]
    last: list[str]
    chain: dict[str, list[Any]]
    deltas: dict[str, list[Any]]


class CheckpointMetadata(TypedDict, total=False):
    """``source`` (input|loop|update|fork), ``step``, ``parents`` and user keys."""

    source: str
    step: int
    parents: dict[str, str]


class CheckpointTuple(NamedTuple):
    """A checkpoint with its config, metadata, parent and pending writes."""

    config: RunnableConfig
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    parent_config: RunnableConfig | None = None
    pending_writes: list[tuple[str, str, Any]] | None = None


def config_thread_id(config: RunnableConfig | None) -> str:
    """Return ``configurable.thread_id``.

    Raises:
        ValueError: If the config has no thread id.
    """
    conf = (config or {}).get("configurable") or {}
    thread_id = conf.get("thread_id")
    if thread_id is None:
        raise ValueError(
            "a checkpointer needs config={'configurable': {'thread_id': ...}}"
        )
    return str(thread_id)


def config_ns(config: RunnableConfig | None) -> str:
    """Return ``configurable.checkpoint_ns`` (default ``""``)."""
    return str(((config or {}).get("configurable") or {}).get("checkpoint_ns") or "")


def config_checkpoint_id(config: RunnableConfig | None) -> str | None:
    """Return ``configurable.checkpoint_id`` or ``None``."""
    return ((config or {}).get("configurable") or {}).get("checkpoint_id")


def checkpoint_config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    """Build the config that addresses one checkpoint."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def mapped(config: RunnableConfig, parents: dict[str, str]) -> RunnableConfig:
    """A subgraph checkpoint's config with LangGraph's ``checkpoint_map``: the
    checkpoints of the graphs above (its metadata's ``parents``) and its own, so
    the config addresses it from the root (``get_state``, ``invoke``...)."""
    if not parents:
        return config
    conf = config["configurable"]
    mapping = {**parents, conf.get("checkpoint_ns", ""): conf.get("checkpoint_id")}
    return {**config, "configurable": {**conf, "checkpoint_map": mapping}}


def metadata_matches(metadata: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    """Return whether every ``filter`` key is in ``metadata`` with that value."""
    if not filter:
        return True
    return all(k in metadata and metadata[k] == v for k, v in filter.items())


class BaseCheckpointSaver:
    """Base class of checkpoint savers (the protocol, LangGraph's method shapes).

    Subclasses implement the five sync methods; the ``a*`` variants default to them.
    See the module docstring for the storage shape and the commit rule.

    A saver that sets ``supports_effects`` also keeps the effect ledger (see
    :mod:`graphs.effects`): :meth:`put_effect` is told of each finished effect
    and may hold it until its next write, which must store it in the same
    transaction as that write (a superstep's checkpoint or a task's pending
    writes); :meth:`flush_effects` writes what it holds; :meth:`get_effects`
    answers the effects of the tasks run from a checkpoint.
    """

    supports_effects: bool = False

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        """Return the checkpoint addressed by ``config`` (latest if no id)."""
        found = self.get_tuple(config)
        return found.checkpoint if found else None

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Return the checkpoint ``configurable.checkpoint_id`` of the thread and
        namespace, or the latest one without an id; ``None`` if there is none."""
        raise NotImplementedError

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Yield checkpoints newest first.

        Args:
            config: Restricts to a thread (``None``: every thread), to a namespace
                when ``checkpoint_ns`` is present and to one checkpoint when
                ``checkpoint_id`` is present.
            filter: Metadata keys that must match exactly.
            before: Only checkpoints whose id is lower than this one's.
            limit: Maximum number of checkpoints.
        """
        raise NotImplementedError

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> RunnableConfig:
        """Store a checkpoint whose parent is ``config``'s checkpoint id.

        Args:
            config: Thread, namespace and parent ``checkpoint_id`` (may be absent).
            checkpoint: The checkpoint with all its ``channel_values``.
            metadata: JSON metadata.
            new_versions: Channels changed since the parent; only these get blobs.

        Returns:
            The config addressing the stored checkpoint.
        """
        raise NotImplementedError

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store pending writes of one task against ``config``'s checkpoint."""
        raise NotImplementedError

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread (all namespaces)."""
        raise NotImplementedError

    def put_effect(self, record: EffectRecord) -> None:
        """Record a finished effect (with the next write at the latest)."""
        raise NotImplementedError

    def flush_effects(self) -> None:
        """Write the effects held since the last write (nothing by default)."""

    async def aflush_effects(self) -> None:
        """Async :meth:`flush_effects`."""
        self.flush_effects()

    def get_effects(self, config: RunnableConfig) -> builtins.list[EffectRecord]:
        """The effects of the tasks run from ``config``'s checkpoint."""
        raise NotImplementedError

    def list_effects(self, thread_id: str) -> builtins.list[EffectRecord]:
        """Every effect of a thread (all namespaces), in the order they started."""
        raise NotImplementedError

    async def aget_effects(self, config: RunnableConfig) -> builtins.list[EffectRecord]:
        """Async :meth:`get_effects`."""
        return self.get_effects(config)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async :meth:`get_tuple`."""
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async :meth:`list`."""
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> RunnableConfig:
        """Async :meth:`put`."""
        return self.put(config, checkpoint, metadata, new_versions)

    def put_async(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> Callable[[], object]:
        """:meth:`put` under ``async`` durability: the checkpoint may become
        durable later. Returns what the engine calls before the run returns, in
        the order of the puts, to wait until it is. By default :meth:`put` runs
        on one writer thread (puts stay in order), beside the next superstep."""
        args = (config, checkpoint, metadata, new_versions)
        return _writer().submit(self.put, *args).result

    async def aput_async(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> Awaitable[object]:
        """Async :meth:`put_async`: what it returns is awaited before the run
        returns. By default :meth:`aput` runs as a task beside the next superstep."""
        args = (config, checkpoint, metadata, new_versions)
        return asyncio.ensure_future(self.aput(*args))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async :meth:`put_writes`."""
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        self.delete_thread(thread_id)


_WRITER: ThreadPoolExecutor | None = None


def _writer() -> ThreadPoolExecutor:
    # one writer thread keeps async-durability puts in order
    global _WRITER
    if _WRITER is None:
        _WRITER = ThreadPoolExecutor(1, thread_name_prefix="graphs-durability")
    return _WRITER
