"""The requests the superstep loop yields to its driver."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["Req", "Request"]


class Req(enum.Enum):
    """What the loop asks its driver to do (the payload's type is in each comment)."""

    RUN = enum.auto()  # list[Task]: run these tasks
    GET = enum.auto()  # config: answer the saver's CheckpointTuple (or None)
    # (config, checkpoint_id): the latest CheckpointTuple before that id (or None)
    GET_BEFORE = enum.auto()
    PUT = enum.auto()  # put() arguments: answer the new checkpoint's config
    PUT_BG = enum.auto()  # put() arguments: write in the background (async durability)
    WRITES = enum.auto()  # put_writes() arguments
    FLUSH = enum.auto()  # None: wait for the background writes
    CHUNKS = enum.auto()  # list[Chunk]: hand these to the caller
    HOOK = enum.auto()  # (step_hook, step): call it between supersteps
    EFFECTS = enum.auto()  # config: answer the effects recorded for its tasks


Request = tuple[Req, Any]
