"""The checkpoint storage format (version 1) and helpers every saver reuses.

A checkpoint is stored as three kinds of rows (see :class:`BaseCheckpointSaver`):

* a *header* per ``(thread_id, checkpoint_ns, checkpoint_id)``: the checkpoint dict
  without ``channel_values``, encoded with :mod:`graphs.serde`;
* a *blob* per ``(thread_id, checkpoint_ns, channel, version)``, written only for the
  channels in ``new_versions``; its ``type`` is ``"json"`` (the serde-encoded value),
  ``"delta"`` (``{"prev": version, "base": version, "append": [items]}``: the value
  is the value at ``prev`` followed by ``append``) or ``"empty"``;
* a *write* per ``(thread_id, checkpoint_ns, checkpoint_id, task_id, idx)``.

:func:`split_checkpoint` turns a checkpoint into its header and blob rows;
:func:`assemble_checkpoint` rebuilds it from a header and a blob lookup.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from graphs import serde
from graphs.checkpoint.base import CheckpointTuple, checkpoint_config
from graphs.errors import CheckpointDecodeError

__all__ = [
    "FORMAT_VERSION",
    "MIN_DELTA_CHAIN",
    "WRITES_IDX_MAP",
    "BlobRow",
    "assemble_checkpoint",
    "checkpoint_tuple",
    "decode_blob",
    "dump_header",
    "dump_metadata",
    "load_header",
    "new_checkpoint_id",
    "now_iso",
    "split_checkpoint",
    "write_rows",
]

FORMAT_VERSION = 1
"""Value of ``checkpoint["v"]`` written by this engine."""

MIN_DELTA_CHAIN = 8
"""A list channel may chain at least this many append-deltas before a full copy."""

ERROR, INTERRUPT, RESUME = "__error__", "__interrupt__", "__resume__"
BOOKKEEPING = (ERROR, INTERRUPT, RESUME)
WRITES_IDX_MAP = {ERROR: -1, INTERRUPT: -3, RESUME: -4}
"""Fixed (negative) write indexes of bookkeeping channels: these rows are upserted;
ordinary writes use their position and are inserted only if absent."""

BlobRow = tuple[str, str, str, bytes]
"""``(channel, version, type, data)``."""

_id_lock = threading.Lock()
_random = random.Random(os.urandom(16))
_last_us = 0


def new_checkpoint_id() -> str:
    """Return a unique, time-ordered id formatted like a UUID (sorts as a string)."""
    global _last_us
    now = time.time_ns() // 1000
    with _id_lock:
        now = max(now, _last_us + 1)
        _last_us = now
    # random bits only keep ids of one microsecond apart across processes; they
    # need no cryptographic strength (and getrandbits costs no system call)
    h = f"{now:016x}{_random.getrandbits(64):016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now_iso() -> str:
    """Current UTC time in ISO 8601 (the ``ts`` field)."""
    return datetime.now(UTC).isoformat()


def split_checkpoint(
    checkpoint: dict[str, Any], new_versions: dict[str, Any]
) -> tuple[dict[str, Any], list[BlobRow]]:
    """Split a checkpoint into its header and the blob rows to write.

    ``checkpoint["deltas"]`` (optional, set by the engine) maps a channel to
    ``[prev_version, start]`` when its new value is the value at ``prev_version``
    with ``value[start:]`` appended; such channels are stored as ``delta`` blobs.
    Such a channel always has ``checkpoint["chain"][channel] = [depth, full_length,
    base_version]`` where ``base_version`` is the version of the full blob the chain
    starts from: a database saver can fetch the blobs of versions
    ``base_version..version`` of the channel in one range query.

    Args:
        checkpoint: The checkpoint, ``channel_values`` included.
        new_versions: Channels whose value changed, with their new version.

    Returns:
        The header (checkpoint without ``channel_values`` and ``deltas``) and the
        ``(channel, version, type, data)`` rows for the channels in ``new_versions``.
    """
    header = {
        k: v for k, v in checkpoint.items() if k != "channel_values" and k != "deltas"
    }
    values = checkpoint.get("channel_values") or {}
    deltas = checkpoint.get("deltas") or {}
    chain = checkpoint.get("chain") or {}
    blobs: list[BlobRow] = []
    for channel, version in new_versions.items():
        if channel not in values:
            blobs.append((channel, str(version), "empty", b""))
        elif channel in deltas:
            prev, start = deltas[channel]
            payload = {
                "prev": prev,
                "base": chain.get(channel, [0, 0, prev])[2],
                "append": values[channel][start:],
            }
            blobs.append((channel, str(version), "delta", serde.dumps(payload)))
        else:
            blobs.append((channel, str(version), "json", serde.dumps(values[channel])))
    return header, blobs


def dump_header(header: dict[str, Any]) -> bytes:
    """Encode a checkpoint header as JSON bytes.

    Every header field is plain JSON except the ``Send`` arguments and the input
    writes in ``next``, so only those go through the tagged encoder (the header is
    written every step).
    Metadata, which may hold anything, is encoded with :func:`graphs.serde.dumps`.
    """
    nxt = header.get("next")
    try:
        if not nxt or max(map(len, nxt)) == 1:  # {"name"} alone is JSON
            return "".join(serde.json_chunks(header)).encode("utf-8")
        pieces = ["{"]
        for k, v in header.items():
            if len(pieces) > 1:
                pieces.append(",")
            pieces += (_encode_key(k), ":")
            if k == "next":
                pieces.append(serde.dumps_text(v))
            else:
                pieces += serde.json_chunks(v)
        pieces.append("}")
        return "".join(pieces).encode("utf-8")
    except (TypeError, ValueError):
        return serde.dumps(header)  # the tagged encoder names what is wrong


_encode_key = json.encoder.encode_basestring  # what the encoder does to str keys


def dump_metadata(metadata: Mapping[str, Any]) -> bytes:
    """Encode checkpoint metadata: plain JSON (what the engine writes) directly,
    anything else through :func:`graphs.serde.dumps`; both load with
    :func:`graphs.serde.loads`."""
    try:
        return "".join(serde.json_chunks(metadata)).encode("utf-8")
    except (TypeError, ValueError):
        return serde.dumps(metadata)


def load_header(data: bytes) -> dict[str, Any]:
    """Decode a header written by :func:`dump_header`.

    Raises:
        CheckpointDecodeError: If the bytes are not a version-1 header.
    """
    header = serde.loads(data)
    if not isinstance(header, dict) or "id" not in header:
        raise CheckpointDecodeError("checkpoint header is not an object with an id")
    if header.get("v", FORMAT_VERSION) > FORMAT_VERSION:
        raise CheckpointDecodeError(f"unsupported checkpoint format v{header['v']}")
    return header


_MISSING = object()
BlobLookup = Callable[[str, str], "tuple[str, bytes] | None"]


def decode_blob(channel: str, version: str, get_blob: BlobLookup) -> Any:
    """Return a channel's value at ``version``, following delta chains.

    Args:
        channel: Channel name.
        version: Version to read.
        get_blob: ``(channel, version) -> (type, data)`` or ``None`` if absent.

    Returns:
        The value, or the private ``_MISSING`` marker for an ``empty`` blob.

    Raises:
        CheckpointDecodeError: If a blob is missing, of unknown type or malformed.
    """
    appended: list[list[Any]] = []
    while True:
        row = get_blob(channel, version)
        if row is None:
            raise CheckpointDecodeError(f"blob {channel!r}@{version} is missing")
        kind, data = row
        if kind == "json":
            value = serde.loads(data)
            break
        if kind == "empty":
            return _MISSING
        if kind != "delta":
            raise CheckpointDecodeError(f"unknown blob type {kind!r} for {channel!r}")
        delta = serde.loads(data)
        if not isinstance(delta, dict) or not isinstance(delta.get("append"), list):
            raise CheckpointDecodeError(f"malformed delta blob for {channel!r}")
        appended.append(delta["append"])
        version = delta["prev"]
    if not appended:
        return value
    if not isinstance(value, list):
        raise CheckpointDecodeError(f"delta on a non-list value of {channel!r}")
    value = list(value)
    for items in reversed(appended):
        value.extend(items)
    return value


def assemble_checkpoint(header: dict[str, Any], get_blob: BlobLookup) -> dict[str, Any]:
    """Rebuild a full checkpoint from its header and a blob lookup.

    Args:
        header: The decoded header (see :func:`load_header`).
        get_blob: ``(channel, version) -> (type, data)`` or ``None``.

    Returns:
        The checkpoint with ``channel_values`` filled in.
    """
    values: dict[str, Any] = {}
    for channel, version in header.get("channel_versions", {}).items():
        value = decode_blob(channel, str(version), get_blob)
        if value is not _MISSING:
            values[channel] = value
    return {**header, "channel_values": values}


def write_rows(
    writes: Sequence[tuple[str, Any]],
) -> Iterable[tuple[int, str, str, bytes, bool]]:
    """Encode pending writes as ``(idx, channel, type, data, upsert)`` rows.

    Bookkeeping channels (``__error__``, ``__interrupt__``, ``__resume__``) get their
    fixed negative index and replace an existing row (``upsert=True``); other writes
    use their position and must not overwrite a row that already exists.
    """
    for i, (channel, value) in enumerate(writes):
        idx = WRITES_IDX_MAP.get(channel, i)
        kind, data = serde.dumps_typed(value)
        yield idx, channel, kind, data, idx < 0


WriteRow = tuple[str, int, str, str, bytes]
"""``(task_id, idx, channel, type, data)``."""


def checkpoint_tuple(
    thread_id: str,
    ns: str,
    checkpoint_id: str,
    header: bytes,
    metadata: bytes,
    parent_id: str | None,
    get_blob: BlobLookup,
    writes: Iterable[WriteRow],
) -> CheckpointTuple:
    """Build the :class:`CheckpointTuple` of one stored checkpoint row.

    Args:
        thread_id: Thread of the row.
        ns: Namespace of the row.
        checkpoint_id: Id of the row.
        header: Stored header bytes (:func:`dump_header`).
        metadata: Stored metadata bytes (:func:`graphs.serde.dumps`).
        parent_id: Parent checkpoint id, or ``None``.
        get_blob: ``(channel, version) -> (type, data)`` for this thread and ns.
        writes: The checkpoint's write rows, in any order.

    Returns:
        The tuple, pending writes ordered by ``(task_id, idx)``.
    """
    checkpoint = assemble_checkpoint(load_header(header), get_blob)
    pending = [
        (task_id, channel, serde.loads_typed((kind, data)))
        for task_id, _, channel, kind, data in sorted(writes, key=lambda w: w[:2])
    ]
    return CheckpointTuple(
        config=checkpoint_config(thread_id, ns, checkpoint_id),
        checkpoint=checkpoint,  # type: ignore[arg-type]
        metadata=serde.loads(metadata),
        parent_config=checkpoint_config(thread_id, ns, parent_id)
        if parent_id
        else None,
        pending_writes=pending,
    )
