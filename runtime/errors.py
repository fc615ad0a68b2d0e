"""The runtime's exceptions: one root, a stable ``code`` and HTTP status per leaf."""

from __future__ import annotations

from typing import Any


class OrisError(Exception):
    """Root of runtime errors. Do not raise directly: raise a leaf."""

    code = "internal"
    http_status = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidArgument(OrisError):
    code = "invalid_argument"
    http_status = 400


class NotFound(OrisError):
    code = "not_found"
    http_status = 404


class JobNotFound(NotFound):
    pass


class UnknownGraph(InvalidArgument):
    pass


class Conflict(OrisError):
    code = "conflict"
    http_status = 409


class InvalidTransition(Conflict):
    """Someone else moved the row first (the compare-and-set matched nothing)."""


class LeaseLost(Conflict):
    """The lease expired or was taken over; the holder must stop without writing."""


class JobCancelled(Conflict):
    """The job was cancelled; execution stops at the next superstep."""


class InterruptAlreadyResolved(Conflict):
    pass


class GraphDefinitionChanged(Conflict):
    """The registered graph is not the one the run started on (its definition
    hash differs), so continuing it could take paths its checkpoints never saw."""


class ExecutionTimeout(OrisError):
    """An attempt ran past its timeout policy. Recorded as the attempt's error by
    the reaper; never raised to a caller."""

    code = "execution_timeout"
