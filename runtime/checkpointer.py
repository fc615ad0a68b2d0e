"""DjangoSaver: the graphs checkpointer protocol on the runtime's models.

It stores the rows graphs' format defines (a header per checkpoint, a blob per
channel version, a row per pending write), so a thread grows with what changed.
Each ``put`` is one transaction (blobs inserted if absent, then an upsert of the
header, as in LangGraph's savers): on PostgreSQL a single statement, on SQLite two.
An optional ``fence`` (the runtime's ``LeaseFence``) is part of it, so checkpoint
writes are fenced by the worker's lease: when the lease is lost or the job
cancelled, nothing of that superstep is written and ``put`` raises.

For a new thread of the runtime (``new_thread``: a job's first run, whose input is
already durable in its job row) the checkpoints that only record that input (the
input checkpoint, step -1, and the START superstep's, step 0) are held back and
written in the first node superstep's transaction, so the run spends one commit per
node superstep and none for its input. With ``hold_final`` the last checkpoint of a
run that completes (``next`` is empty, at the top of the thread) is held too, for
the caller to ``flush`` in the transaction that records the run's outcome: a
completed job and its final checkpoint commit together. Any read, ``put_writes`` or
``flush`` writes what is held first.
"""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NoReturn, Protocol, cast

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from graphs import serde
from graphs.checkpoint import BaseCheckpointSaver, CheckpointTuple
from graphs.checkpoint.base import Checkpoint as GraphCheckpoint
from graphs.checkpoint.base import (
    CheckpointMetadata,
    checkpoint_config,
    config_checkpoint_id,
    config_ns,
    config_thread_id,
)
from graphs.checkpoint.format import (
    assemble_checkpoint,
    dump_header,
    dump_metadata,
    split_checkpoint,
    write_rows,
)
from graphs.effects import EffectRecord
from graphs.errors import CheckpointDecodeError
from runtime import metrics
from runtime.models import Checkpoint, CheckpointBlob, CheckpointWrite, Effect
from runtime.services.statements import Prepared, columns_of, model_from_row


class Fence(Protocol):
    """What fences the saver's writes (the runtime's ``LeaseFence``)."""

    def statement(self) -> tuple[str, list[Any]]: ...
    def check(self) -> None: ...
    def failed(self) -> NoReturn: ...


WRITE_KEY = ["thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"]


class DjangoSaver(BaseCheckpointSaver):
    """Checkpoints (and the effect ledger) in the Django database (PostgreSQL or
    SQLite).

    A finished effect is held until the saver's next write and goes into that
    write's transaction: the superstep's checkpoint (on PostgreSQL a CTE of its
    one statement), the task's pending writes, or ``flush_effects`` (which the
    engine calls before the next effect starts).
    """

    supports_effects = True

    def __init__(
        self,
        *,
        fence: Fence | None = None,
        new_thread: bool = False,
        hold_final: bool = False,
    ) -> None:
        self.fence = fence
        # The runtime knows when a thread has no checkpoint yet (a job's first
        # run): the engine's first read of it is then answered without a query,
        # and the checkpoints of its input can wait for the first node superstep's.
        self._known_empty = new_thread
        self._holding = new_thread
        self._hold_final = hold_final
        self._held: tuple[list[Row], list[Row]] = ([], [])  # blob rows, headers
        # finished effects not yet written (tasks of a superstep may run in threads)
        self._effects: list[Row] = []
        self._effects_lock = threading.Lock()
        self._local = threading.local()  # unflushed: a commit awaits _settle

    def flush(self) -> None:
        """Writes the held checkpoints (fenced; in the caller's transaction if
        there is one)."""
        if self._held[1]:
            self._write([], [])

    def take_held(self, guard: str) -> Statement | None:
        """The held checkpoints, and the finished effects, as CTEs of the
        caller's PostgreSQL statement that write them if its CTE ``guard``
        returns a row (``guarded_put``); ``None`` when none is held. Taken: the
        caller's statement writes them, or the run's outcome is lost with them."""
        if not self._held[1]:
            return None
        (blob_rows, header_rows), self._held = self._held, ([], [])
        _count_written(blob_rows, header_rows)
        return guarded_put(blob_rows, header_rows, self._take_effects(), guard)

    def get_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        if self._known_empty:
            return None
        self.flush()
        thread_id, ns = config_thread_id(config), config_ns(config)
        checkpoint_id = config_checkpoint_id(config)
        with connection.cursor() as cursor:
            if checkpoint_id:
                cursor.execute(_HEADER_AT, [thread_id, ns, str(checkpoint_id)])
            else:
                cursor.execute(_HEADER_LATEST, [thread_id, ns])
            found = cursor.fetchone()
        if found is None:
            return None
        return self._tuple(model_from_row(Checkpoint, found, _HEADER_READ))

    def list(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        self.flush()
        conf = (config or {}).get("configurable") or {}
        rows = Checkpoint.objects.order_by("-checkpoint_id")
        if conf.get("thread_id") is not None:
            rows = rows.filter(thread_id=str(conf["thread_id"]))
        if conf.get("checkpoint_ns") is not None:
            rows = rows.filter(checkpoint_ns=conf["checkpoint_ns"])
        if conf.get("checkpoint_id"):
            rows = rows.filter(checkpoint_id=conf["checkpoint_id"])
        if before and config_checkpoint_id(before):
            rows = rows.filter(checkpoint_id__lt=config_checkpoint_id(before))
        for key, value in (filter or {}).items():
            rows = rows.filter(**{f"metadata__{key}": serde.to_jsonable(value)})
        if limit is not None:
            rows = rows[:limit]
        for row in rows:
            yield self._tuple(row)

    def put(
        self,
        config: dict[str, Any],
        checkpoint: GraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> dict[str, Any]:
        return self._put(config, checkpoint, metadata, new_versions, durable=True)

    def put_async(
        self,
        config: dict[str, Any],
        checkpoint: GraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> Callable[[], object]:
        """``async`` durability: written at once, in the caller's thread, as by
        :meth:`put`; but on PostgreSQL, outside a caller's transaction, the
        commit of a checkpoint the run goes on from (it has next tasks) and that
        carries no effect does not wait for the WAL flush. Returns what makes
        such commits durable before the run returns (nothing to do with
        ``hold_final``: the caller's outcome commit does it)."""
        self._put(config, checkpoint, metadata, new_versions, durable=False)
        return _settled if self._hold_final else self._settle

    def _put(
        self,
        config: dict[str, Any],
        checkpoint: GraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
        *,
        durable: bool,
    ) -> dict[str, Any]:
        thread_id, ns = config_thread_id(config), config_ns(config)
        header, blobs = split_checkpoint(dict(checkpoint), new_versions)
        header_row = [
            thread_id,
            ns,
            checkpoint["id"],
            config_checkpoint_id(config) or "",
            dump_header(header).decode(),
            dump_metadata(metadata).decode(),
            timezone.now(),
        ]
        blob_rows = [[thread_id, ns, *blob] for blob in blobs]
        final = self._hold_final and not ns and not header.get("next")
        if final or (self._holding and metadata.get("step", 0) < 1):
            self._held = (self._held[0] + blob_rows, self._held[1] + [header_row])
        else:
            self._holding = False
            durable = durable or not header.get("next")  # a run's end is durable
            self._write(blob_rows, [header_row], durable=durable)
        self._known_empty = False
        return checkpoint_config(thread_id, ns, checkpoint["id"])

    def _write(
        self,
        blob_rows: builtins.list[Row],
        header_rows: builtins.list[Row],
        *,
        durable: bool = True,
    ) -> None:
        """Writes checkpoints (with any held one) in one fenced transaction;
        not ``durable``: on PostgreSQL, a commit of its own that carries no
        effect does not wait for the WAL flush."""
        blob_rows, header_rows = self._held[0] + blob_rows, self._held[1] + header_rows
        self._held = ([], [])
        effect_rows = self._take_effects()
        if connection.vendor == "postgresql":
            # One statement, fence included: atomic on its own, one round trip.
            alone = connection.get_autocommit()
            unflushed = alone and not durable and not effect_rows
            sql, params = fenced_put(
                blob_rows, header_rows, self.fence, effect_rows, unflushed=unflushed
            )
            if alone:  # this commit flushes the WAL, or leaves it to _settle
                self._local.unflushed = unflushed
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                if cursor.rowcount != len(header_rows) and self.fence is not None:
                    self.fence.failed()
        else:
            with transaction.atomic():
                if self.fence is not None:
                    self.fence.check()
                with connection.cursor() as cursor:
                    for sql, params in put_statements(blob_rows, header_rows):
                        cursor.execute(sql, params)
                    if effect_rows:
                        cursor.execute(*effects_statement(effect_rows))
        _count_written(blob_rows, header_rows)

    def _settle(self) -> None:
        """Makes this thread's unflushed checkpoint commits durable: a durable
        commit (``pg_current_xact_id`` gives its transaction one) flushes the
        WAL up to itself."""
        if getattr(self._local, "unflushed", False):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")
            self._local.unflushed = False

    def put_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id, ns = config_thread_id(config), config_ns(config)
        checkpoint_id = config_checkpoint_id(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs configurable.checkpoint_id")
        rows: dict[bool, list[CheckpointWrite]] = {True: [], False: []}
        for idx, channel, kind, data, upsert in write_rows(writes):
            rows[upsert].append(
                CheckpointWrite(
                    thread_id=thread_id,
                    checkpoint_ns=ns,
                    checkpoint_id=checkpoint_id,
                    task_id=task_id,
                    task_path=task_path,
                    idx=idx,
                    channel=channel,
                    type=kind,
                    value=data,
                )
            )
        # Bookkeeping writes (negative idx) replace a previous row; ordinary writes
        # keep the first one recorded.
        with transaction.atomic():
            if self._held[1]:
                self.flush()  # the held input checkpoint, fenced
            elif self.fence is not None:
                self.fence.check()
            if rows[True]:
                CheckpointWrite.objects.bulk_create(
                    rows[True],
                    update_conflicts=True,
                    unique_fields=WRITE_KEY,
                    update_fields=["channel", "type", "value", "task_path"],
                )
            if rows[False]:
                CheckpointWrite.objects.bulk_create(rows[False], ignore_conflicts=True)
            self._write_effects()  # the effects the writes depend on

    def delete_thread(self, thread_id: str) -> None:
        thread_id = str(thread_id)
        with transaction.atomic():
            for model in (Checkpoint, CheckpointBlob, CheckpointWrite, Effect):
                model.objects.filter(thread_id=thread_id).delete()

    # -- the effect ledger -------------------------------------------------------

    def put_effect(self, record: EffectRecord) -> None:
        with self._effects_lock:
            self._effects.append(effect_row(record))

    def flush_effects(self) -> None:
        """Writes the held effects (and held checkpoints) in one fenced
        transaction."""
        if self._held[1]:
            self._write([], [])
            return
        with self._effects_lock:
            if not self._effects:  # written with the last checkpoint already
                return
        with transaction.atomic():
            if self.fence is not None:
                self.fence.check()
            self._write_effects()

    def _take_effects(self) -> builtins.list[Row]:
        with self._effects_lock:
            rows, self._effects = self._effects, []
        return rows

    def _write_effects(self) -> None:
        """Writes the held effects in the caller's (fenced) transaction."""
        rows = self._take_effects()
        if rows:
            with connection.cursor() as cursor:
                cursor.execute(*effects_statement(rows))

    def get_effects(self, config: dict[str, Any]) -> builtins.list[EffectRecord]:
        self.flush()
        found = Effect.objects.filter(
            thread_id=config_thread_id(config),
            checkpoint_ns=config_ns(config),
            checkpoint_id=config_checkpoint_id(config) or "",
        )
        return effect_records(found)

    def list_effects(self, thread_id: str) -> builtins.list[EffectRecord]:
        rows = Effect.objects.filter(thread_id=str(thread_id))
        return effect_records(rows.order_by("started_at", "idx"))

    async def aflush_effects(self) -> None:
        await sync_to_async(self.flush_effects)()

    async def aget_effects(self, config: dict[str, Any]) -> builtins.list[EffectRecord]:
        return await sync_to_async(self.get_effects)(config)

    # The ORM is synchronous: async callers (ainvoke, astream) run it in a thread.
    async def aget_tuple(self, config: dict[str, Any]) -> CheckpointTuple | None:
        return await sync_to_async(self.get_tuple)(config)

    async def alist(
        self,
        config: dict[str, Any] | None,
        *,
        filter: dict[str, Any] | None = None,
        before: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        found = await sync_to_async(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )()
        for item in found:
            yield item

    async def aput(
        self,
        config: dict[str, Any],
        checkpoint: GraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> dict[str, Any]:
        return await sync_to_async(self.put)(config, checkpoint, metadata, new_versions)

    async def aput_async(
        self,
        config: dict[str, Any],
        checkpoint: GraphCheckpoint,
        metadata: CheckpointMetadata,
        new_versions: dict[str, Any],
    ) -> Awaitable[object]:
        settle = await sync_to_async(self.put_async)(
            config, checkpoint, metadata, new_versions
        )
        return sync_to_async(settle)()

    async def aput_writes(
        self,
        config: dict[str, Any],
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await sync_to_async(self.put_writes)(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await sync_to_async(self.delete_thread)(thread_id)

    def _tuple(self, row: Checkpoint) -> CheckpointTuple:
        thread_id, ns = row.thread_id, row.checkpoint_ns
        header = serde.from_jsonable(row.checkpoint)
        if not isinstance(header, dict) or "id" not in header:
            raise CheckpointDecodeError(f"checkpoint {row.checkpoint_id} is malformed")
        versions, params = blob_versions(header)
        with connection.cursor() as cursor:
            found: builtins.list[tuple[Any, ...]] = []
            if versions:  # (a header without channels needs no blob)
                cursor.execute(
                    f"{_BLOBS_SELECT} AND ({versions})", [thread_id, ns, *params]
                )
                found = cursor.fetchall()
            cursor.execute(_WRITES_SELECT, [thread_id, ns, row.checkpoint_id])
            writes = cursor.fetchall()
        blobs = {
            (channel, version): (kind, bytes(value or b""))
            for channel, version, kind, value in found
        }
        checkpoint = assemble_checkpoint(header, lambda ch, v: blobs.get((ch, v)))
        pending = [
            (task_id, channel, serde.loads_typed((kind, bytes(value or b""))))
            for task_id, channel, kind, value in writes
        ]
        parent = row.parent_checkpoint_id
        return CheckpointTuple(
            config=checkpoint_config(thread_id, ns, row.checkpoint_id),
            checkpoint=cast(GraphCheckpoint, checkpoint),
            metadata=serde.from_jsonable(row.metadata),
            parent_config=checkpoint_config(thread_id, ns, parent) if parent else None,
            pending_writes=pending,
        )


# A thread's checkpoint, read at every run's start (and found absent on a new
# thread): plain SQL rendered once, not querysets built per read.
_HEADER_READ = (
    "thread_id",
    "checkpoint_ns",
    "checkpoint_id",
    "parent_checkpoint_id",
    "checkpoint",
    "metadata",
)
_HEADER_SELECT = (
    f"SELECT {columns_of(Checkpoint, _HEADER_READ)} FROM {Checkpoint._meta.db_table}"
    " WHERE thread_id = %s AND checkpoint_ns = %s"
)
_HEADER_LATEST = Prepared(f"{_HEADER_SELECT} ORDER BY checkpoint_id DESC LIMIT 1")
_HEADER_AT = Prepared(f"{_HEADER_SELECT} AND checkpoint_id = %s")
# ... and what it needs: its channels' blobs, and its pending writes in order.
_BLOBS_SELECT = (
    f"SELECT channel, version, type, value FROM {CheckpointBlob._meta.db_table}"
    " WHERE thread_id = %s AND checkpoint_ns = %s"
)
_WRITES_SELECT = (
    f"SELECT task_id, channel, type, value FROM {CheckpointWrite._meta.db_table}"
    " WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s"
    " ORDER BY task_id, idx"
)


def _count_written(blob_rows: list[Row], header_rows: list[Row]) -> None:
    written = sum(len(row[4]) + len(row[5]) for row in header_rows)
    written += sum(len(row[-1] or b"") for row in blob_rows)
    metrics.inc("checkpoint_written_bytes_total", written)


def _settled() -> None:
    """What waits for checkpoints the caller's next commit makes durable."""


def blob_versions(header: dict[str, Any]) -> tuple[str, builtins.list[str]]:
    """The blob rows a checkpoint needs, as a SQL condition and its parameters
    (empty when it needs none): each channel's version and, for a list stored as
    a chain of deltas, the versions back to the chain's full copy."""
    chain = header.get("chain") or {}
    terms, params = [], []
    for channel, version in header.get("channel_versions", {}).items():
        base = chain[channel][2] if channel in chain else None
        if base and str(base) != str(version):
            terms.append("(channel = %s AND version >= %s AND version <= %s)")
            params += [str(channel), str(base), str(version)]
        else:
            terms.append("(channel = %s AND version = %s)")
            params += [str(channel), str(version)]
    return " OR ".join(terms), params


Statement = tuple[str, list[Any]]
Row = list[Any]


_HEADER_COLUMNS = (
    "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, "
    "metadata, created_at"
)
_BLOB_COLUMNS = "thread_id, checkpoint_ns, channel, version, type, value"
_ON_HEADER_CONFLICT = (
    " ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET "
    "parent_checkpoint_id = excluded.parent_checkpoint_id, "
    "checkpoint = excluded.checkpoint, metadata = excluded.metadata"
)


_EFFECT_FIELDS = (
    ("key", "text"),
    ("thread_id", "text"),
    ("checkpoint_ns", "text"),
    ("checkpoint_id", "text"),
    ("task_id", "text"),
    ("task_path", "text"),
    ("step", "integer"),
    ("idx", "integer"),
    ("kind", "text"),
    ("name", "text"),
    ("request", "jsonb"),
    ("response", "jsonb"),
    ("outcome", "text"),
    ("error", "jsonb"),
    ("input_tokens", "integer"),
    ("output_tokens", "integer"),
    ("total_tokens", "integer"),
    ("cost_usd", "double precision"),
    ("duration_ms", "double precision"),
    ("started_at", "timestamptz"),
)
_EFFECT_COLUMNS = ", ".join(f'"{name}"' for name, _ in _EFFECT_FIELDS)
_EFFECT_ALIASES = ", ".join(f"e{i}" for i in range(len(_EFFECT_FIELDS)))
_EFFECT_CASTS = ", ".join(f"e{i}::{kind}" for i, (_, kind) in enumerate(_EFFECT_FIELDS))
# An effect run again (the one in flight at a crash, or one that failed) replaces
# its earlier row.
_ON_EFFECT_CONFLICT = ' ON CONFLICT ("key") DO UPDATE SET ' + ", ".join(
    f'"{name}" = excluded."{name}"' for name, _ in _EFFECT_FIELDS[1:]
)


def effect_row(record: EffectRecord) -> Row:
    """The column values of an effect (JSON as text, in ``_EFFECT_FIELDS`` order)."""
    usage = record.usage
    return [
        record.key,
        record.thread_id,
        record.checkpoint_ns,
        record.checkpoint_id,
        record.task_id,
        record.task_path,
        record.step,
        record.index,
        record.kind,
        record.name,
        json.dumps(record.request),
        None if record.response is None else json.dumps(record.response),
        record.outcome,
        None if record.error is None else json.dumps(record.error),
        int(usage.get("input_tokens", 0)),
        int(usage.get("output_tokens", 0)),
        int(usage.get("total_tokens", 0)),
        float(record.cost),
        float(record.duration_ms),
        datetime.fromisoformat(record.started_at) if record.started_at else None,
    ]


_USAGE = ("input_tokens", "output_tokens", "total_tokens")


def effect_records(rows: QuerySet[Effect]) -> builtins.list[EffectRecord]:
    """Effect rows as graphs sees them, read in one query without model
    instances: the request and the response as the JSON text stored, decoded
    when read (a recorded replay compares the request's text instead)."""
    found = rows.values(
        "key",
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "task_id",
        "task_path",
        "step",
        "kind",
        "name",
        "outcome",
        "error",
        "duration_ms",
        *_USAGE,
        "started_at",
        index=F("idx"),
        cost=F("cost_usd"),
        request_json=Cast("request", TextField()),
        response_json=Cast("response", TextField()),
    )
    # PostgreSQL's jsonb keeps the values, not the text (its keys are reordered):
    # there the request is decoded and compared as values
    verbatim = connection.vendor != "postgresql"
    records = []
    for row in found:
        if not verbatim:
            row["request"] = json.loads(row.pop("request_json"))
        usage = {name: row.pop(name) for name in _USAGE}
        started_at = row.pop("started_at").isoformat()
        records.append(EffectRecord(**row, usage=usage, started_at=started_at))
    return records


def effects_statement(rows: list[Row]) -> Statement:
    """The upsert of effect rows (SQLite, or PostgreSQL outside a ``put``)."""
    if connection.vendor == "postgresql":
        values = f"SELECT {_EFFECT_CASTS} FROM (VALUES {_placeholders(rows)}) "
        values += f"AS r({_EFFECT_ALIASES})"
    else:
        values = f"VALUES {_placeholders(rows)}"
    sql = (
        f"INSERT INTO {Effect._meta.db_table} ({_EFFECT_COLUMNS}) {values}"
        f"{_ON_EFFECT_CONFLICT}"
    )
    return sql, [value for row in rows for value in row]


def put_statements(blob_rows: list[Row], header_rows: list[Row]) -> list[Statement]:
    """The SQL of one ``put`` on SQLite: insert the new blobs if absent, then
    upsert the headers (in the caller's transaction)."""
    statements = []
    if blob_rows:
        statements.append(
            (
                f"INSERT INTO {CheckpointBlob._meta.db_table} ({_BLOB_COLUMNS}) "
                f"VALUES {_placeholders(blob_rows)} ON CONFLICT DO NOTHING",
                [value for row in blob_rows for value in row],
            )
        )
    statements.append(
        (
            f"INSERT INTO {Checkpoint._meta.db_table} ({_HEADER_COLUMNS}) "
            f"VALUES {_placeholders(header_rows)}{_ON_HEADER_CONFLICT}",
            [value for row in header_rows for value in row],
        )
    )
    return statements


def fenced_put(
    blob_rows: list[Row],
    header_rows: list[Row],
    fence: Fence | None,
    effect_rows: list[Row] | None = None,
    *,
    unflushed: bool = False,
) -> Statement:
    """The SQL of one ``put`` on PostgreSQL, as a single statement.

    A superstep's checkpoint is the hot path of every durable run: the fence's
    ``UPDATE``, the blob insert and the header upsert are data-modifying CTEs of
    one statement, so a superstep costs one round trip and one commit, and writes
    nothing (zero rows) when the fence fails. ``unflushed``: its commit (as a
    statement of its own) does not wait for the WAL flush (``set_config(...,
    true)`` is a ``SET LOCAL`` for its transaction).
    """
    ctes, params, where, join = [], [], "", ""
    if unflushed:
        off = "SELECT set_config('synchronous_commit', 'off', true)"
        ctes.append(f"unflushed AS ({off})")
        join = " CROSS JOIN unflushed"
    if fence is not None:
        fence_sql, fence_params = fence.statement()
        ctes.append(f"fence AS ({fence_sql} RETURNING 1)")
        params += fence_params
        where = " WHERE EXISTS (SELECT 1 FROM fence)"
    rows, row_params = _row_ctes(blob_rows, effect_rows, where)
    with_clause = f"WITH {', '.join(ctes + rows)} " if ctes or rows else ""
    sql = Prepared(f"{with_clause}{_header_insert(header_rows, join + where)}")
    return sql, params + row_params + [value for row in header_rows for value in row]


def guarded_put(
    blob_rows: list[Row], header_rows: list[Row], effect_rows: list[Row], guard: str
) -> Statement:
    """A ``put`` on PostgreSQL as common table expressions of a caller's
    statement (joined by commas, positional ``%s``), which write only if the
    caller's CTE ``guard`` returned a row: its fence."""
    where = f" WHERE EXISTS (SELECT 1 FROM {guard})"
    ctes, params = _row_ctes(blob_rows, effect_rows, where)
    ctes.append(f"new_headers AS ({_header_insert(header_rows, where)})")
    return ", ".join(ctes), params + [value for row in header_rows for value in row]


def _row_ctes(
    blob_rows: list[Row], effect_rows: list[Row] | None, where: str
) -> tuple[list[str], list[Any]]:
    """The CTEs that insert a ``put``'s blobs and effects, each ``where``."""
    ctes: list[str] = []
    params: list[Any] = []
    if blob_rows:
        ctes.append(
            f"new_blobs AS (INSERT INTO {CheckpointBlob._meta.db_table} "
            f"({_BLOB_COLUMNS}) SELECT t, n, c, v, k, b::bytea FROM "
            f"(VALUES {_placeholders(blob_rows)}) AS r(t, n, c, v, k, b){where} "
            "ON CONFLICT DO NOTHING)"
        )
        params += [value for row in blob_rows for value in row]
    if effect_rows:
        ctes.append(
            f"new_effects AS (INSERT INTO {Effect._meta.db_table} "
            f"({_EFFECT_COLUMNS}) SELECT {_EFFECT_CASTS} FROM "
            f"(VALUES {_placeholders(effect_rows)}) AS r({_EFFECT_ALIASES}){where}"
            f"{_ON_EFFECT_CONFLICT})"
        )
        params += [value for row in effect_rows for value in row]
    return ctes, params


def _header_insert(header_rows: list[Row], tail: str) -> str:
    return (
        f"INSERT INTO {Checkpoint._meta.db_table} ({_HEADER_COLUMNS}) "
        "SELECT t, n, i, p, c::jsonb, m::jsonb, a::timestamptz FROM "
        f"(VALUES {_placeholders(header_rows)}) AS r(t, n, i, p, c, m, a)"
        f"{tail}{_ON_HEADER_CONFLICT}"
    )


def _placeholders(rows: list[Row]) -> str:
    row = f"({', '.join(['%s'] * len(rows[0]))})"
    return ", ".join([row] * len(rows))
