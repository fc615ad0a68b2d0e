"""InMemorySaver: the reference saver, storing exactly the documented row shape."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from graphs import serde
from graphs.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    RunnableConfig,
    checkpoint_config,
    config_checkpoint_id,
    config_ns,
    config_thread_id,
    metadata_matches,
)
from graphs.checkpoint.format import (
    checkpoint_tuple,
    dump_header,
    dump_metadata,
    split_checkpoint,
    write_rows,
)
from graphs.effects import EffectRecord

__all__ = ["InMemorySaver", "MemorySaver"]

_Row = tuple[bytes, bytes, str | None]  # header, metadata, parent id


class InMemorySaver(BaseCheckpointSaver):
    """Keeps checkpoint, blob and write rows in dicts (tests, demos, benchmarks).

    Values are stored as encoded bytes, never as live objects, so a run sees the same
    round trip as with a database saver and :meth:`stored_bytes` is meaningful.
    It keeps the effect ledger too (each effect stored as it finishes).
    """

    supports_effects = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._checkpoints: dict[tuple[str, str], dict[str, _Row]] = {}
        self._latest: dict[tuple[str, str], str] = {}
        self._blobs: dict[tuple[str, str, str, str], tuple[str, bytes]] = {}
        self._writes: dict[
            tuple[str, str, str], dict[tuple[str, int], tuple[str, str, bytes, str]]
        ] = {}
        self._effects: dict[str, EffectRecord] = {}

    def put_effect(self, record: EffectRecord) -> None:
        """See :meth:`BaseCheckpointSaver.put_effect`."""
        with self._lock:
            self._effects[record.key] = record

    def get_effects(self, config: RunnableConfig) -> list[EffectRecord]:
        """See :meth:`BaseCheckpointSaver.get_effects`."""
        thread_id, ns = config_thread_id(config), config_ns(config)
        checkpoint_id = config_checkpoint_id(config)
        with self._lock:
            return [
                r
                for r in self._effects.values()
                if (r.thread_id, r.checkpoint_ns, r.checkpoint_id)
                == (thread_id, ns, checkpoint_id)
            ]

    def list_effects(self, thread_id: str) -> list[EffectRecord]:
        """See :meth:`BaseCheckpointSaver.list_effects`."""
        with self._lock:
            found = [r for r in self._effects.values() if r.thread_id == thread_id]
        return sorted(found, key=lambda r: (r.started_at, r.index))

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """See :meth:`BaseCheckpointSaver.get_tuple`."""
        thread_id, ns = config_thread_id(config), config_ns(config)
        with self._lock:
            rows = self._checkpoints.get((thread_id, ns))
            if not rows:
                return None
            checkpoint_id = (
                config_checkpoint_id(config) or self._latest[(thread_id, ns)]
            )
            row = rows.get(checkpoint_id)
            if row is None:
                return None
            return self._tuple(thread_id, ns, checkpoint_id, row)

    def _tuple(
        self, thread_id: str, ns: str, checkpoint_id: str, row: _Row
    ) -> CheckpointTuple:
        header, metadata, parent_id = row
        blobs = self._blobs
        writes = self._writes.get((thread_id, ns, checkpoint_id), {})
        return checkpoint_tuple(
            thread_id,
            ns,
            checkpoint_id,
            header,
            metadata,
            parent_id,
            lambda ch, v: blobs.get((thread_id, ns, ch, v)),
            [
                (task_id, idx, channel, kind, data)
                for (task_id, idx), (channel, kind, data, _) in writes.items()
            ],
        )

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """See :meth:`BaseCheckpointSaver.list`."""
        conf = (config or {}).get("configurable") or {}
        thread_id = conf.get("thread_id")
        ns = conf.get("checkpoint_ns")
        only_id = conf.get("checkpoint_id")
        before_id = config_checkpoint_id(before) if before else None
        with self._lock:
            candidates = [
                (cid, key, row)
                for key, rows in self._checkpoints.items()
                if (thread_id is None or key[0] == str(thread_id))
                and (ns is None or key[1] == ns)
                for cid, row in rows.items()
                if (only_id is None or cid == only_id)
                and (before_id is None or cid < before_id)
            ]
        candidates.sort(key=lambda c: c[0], reverse=True)
        count = 0
        for cid, (tid, cns), row in candidates:
            if limit is not None and count >= limit:
                return
            if filter and not metadata_matches(serde.loads(row[1]), filter):
                continue
            with self._lock:
                found = self._tuple(tid, cns, cid, row)
            count += 1
            yield found

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> RunnableConfig:
        """See :meth:`BaseCheckpointSaver.put`."""
        thread_id, ns = config_thread_id(config), config_ns(config)
        header, blobs = split_checkpoint(dict(checkpoint), new_versions)
        row = (
            dump_header(header),
            dump_metadata(metadata),
            config_checkpoint_id(config),
        )
        checkpoint_id = checkpoint["id"]
        with self._lock:
            for channel, version, kind, data in blobs:
                self._blobs.setdefault((thread_id, ns, channel, version), (kind, data))
            self._checkpoints.setdefault((thread_id, ns), {})[checkpoint_id] = row
            latest = self._latest.get((thread_id, ns))
            if latest is None or checkpoint_id > latest:
                self._latest[(thread_id, ns)] = checkpoint_id
        return checkpoint_config(thread_id, ns, checkpoint_id)

    def put_async(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> Callable[[], object]:
        """Stores at once, as :meth:`put` (memory has nothing to wait for)."""
        self.put(config, checkpoint, metadata, new_versions)
        return _done

    async def aput_async(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> Awaitable[object]:
        """Stores at once, as :meth:`put`."""
        self.put(config, checkpoint, metadata, new_versions)
        settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        settled.set_result(None)
        return settled

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """See :meth:`BaseCheckpointSaver.put_writes`."""
        thread_id, ns = config_thread_id(config), config_ns(config)
        checkpoint_id = config_checkpoint_id(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs configurable.checkpoint_id")
        rows = list(write_rows(writes))
        with self._lock:
            table = self._writes.setdefault((thread_id, ns, checkpoint_id), {})
            for idx, channel, kind, data, upsert in rows:
                key = (task_id, idx)
                if upsert or key not in table:
                    table[key] = (channel, kind, data, task_path)

    def delete_thread(self, thread_id: str) -> None:
        """See :meth:`BaseCheckpointSaver.delete_thread`."""
        thread_id = str(thread_id)
        with self._lock:
            tables: tuple[dict[Any, Any], ...] = (
                self._checkpoints,
                self._latest,
                self._blobs,
                self._writes,
            )
            for table in tables:
                for key in [k for k in table if k[0] == thread_id]:
                    del table[key]
            for key in [
                k for k, r in self._effects.items() if r.thread_id == thread_id
            ]:
                del self._effects[key]

    def stored_bytes(self, thread_id: str | None = None) -> int:
        """Total bytes of headers, metadata, blobs and writes (of one thread)."""
        with self._lock:
            total = sum(
                len(h) + len(m)
                for key, rows in self._checkpoints.items()
                if thread_id is None or key[0] == thread_id
                for h, m, _ in rows.values()
            )
            total += sum(
                len(data)
                for key, (_, data) in self._blobs.items()
                if thread_id is None or key[0] == thread_id
            )
            total += sum(
                len(row[2])
                for key, table in self._writes.items()
                if thread_id is None or key[0] == thread_id
                for row in table.values()
            )
        return total


MemorySaver = InMemorySaver
"""LangGraph's older name."""


def _done() -> None:
    """What waits for a checkpoint already stored."""
