"""What a thread stores: its checkpoint rows and their bytes (retention's
measure, shown by the console's job page and ``/v1/jobs/{id}/storage``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from runtime.models import Checkpoint, CheckpointBlob, CheckpointWrite


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadStorage:
    """Rows and bytes of one thread (headers and metadata as stored JSON text,
    blob and write payloads as stored bytes)."""

    checkpoints: int
    blobs: int
    writes: int
    checkpoint_bytes: int
    blob_bytes: int
    write_bytes: int

    @property
    def bytes(self) -> int:
        return self.checkpoint_bytes + self.blob_bytes + self.write_bytes


def _size(column: str, *, json: bool) -> str:
    if connection.vendor == "postgresql":
        return f"octet_length({column}::text)" if json else f"octet_length({column})"
    return f"length(CAST({column} AS BLOB))"


def thread_storage(*, thread_id: str) -> ThreadStorage:
    """Counts and sizes a thread's rows (three indexed aggregate reads)."""
    header = f"{_size('checkpoint', json=True)} + {_size('metadata', json=True)}"
    queries = (
        (Checkpoint, header),
        (CheckpointBlob, _size("value", json=False)),
        (CheckpointWrite, _size("value", json=False)),
    )
    found: list[tuple[int, int]] = []
    with connection.cursor() as cursor:
        for model, size in queries:
            cursor.execute(
                f"SELECT COUNT(*), COALESCE(SUM({size}), 0) "
                f"FROM {model._meta.db_table} WHERE thread_id = %s",
                [thread_id],
            )
            count, total = cursor.fetchone()
            found.append((int(count), int(total)))
    (checkpoints, cp_bytes), (blobs, blob_bytes), (writes, write_bytes) = found
    return ThreadStorage(
        checkpoints=checkpoints,
        blobs=blobs,
        writes=writes,
        checkpoint_bytes=cp_bytes,
        blob_bytes=blob_bytes,
        write_bytes=write_bytes,
    )
