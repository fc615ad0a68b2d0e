"""Checkpoint savers: the protocol, its storage format and the in-memory saver.

``from graphs.checkpoint import InMemorySaver, BaseCheckpointSaver, CheckpointTuple``.
"""

from __future__ import annotations

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
    FORMAT_VERSION,
    WRITES_IDX_MAP,
    assemble_checkpoint,
    checkpoint_tuple,
    decode_blob,
    dump_header,
    load_header,
    new_checkpoint_id,
    split_checkpoint,
    write_rows,
)
from graphs.checkpoint.memory import InMemorySaver, MemorySaver

__all__ = [
    "FORMAT_VERSION",
    "WRITES_IDX_MAP",
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "InMemorySaver",
    "MemorySaver",
    "RunnableConfig",
    "assemble_checkpoint",
    "checkpoint_config",
    "checkpoint_tuple",
    "config_checkpoint_id",
    "config_ns",
    "config_thread_id",
    "decode_blob",
    "dump_header",
    "load_header",
    "metadata_matches",
    "new_checkpoint_id",
    "split_checkpoint",
    "write_rows",
]
