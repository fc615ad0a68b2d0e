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


class Forbidden(OrisError):
    code = "forbidden"
    http_status = 403


class NotAssignee(Forbidden):
    """The interrupt's policy names who may answer, and it is not the caller."""


class ReasonRequired(InvalidArgument):
    """The interrupt's policy wants every answer to say why."""


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


class InterruptClaimed(Conflict):
    """Someone else took the interrupt, or it cannot be taken (a quorum)."""


class VoteConflict(Conflict):
    """A quorum vote for a different answer than the one already voted for."""


class GraphDefinitionChanged(Conflict):
    """The registered graph is not the one the run started on (its definition
    hash differs), so continuing it could take paths its checkpoints never saw."""


class RecoveryLimitExceeded(OrisError):
    """An attempt was dispatched ``ORIS_MAX_RECOVERY_ATTEMPTS`` times without an
    outcome. Recorded as the attempt's error; never raised to a caller."""

    code = "recovery_limit"


class ExecutionTimeout(OrisError):
    """An attempt ran past its timeout policy. Recorded as the attempt's error by
    the reaper; never raised to a caller."""

    code = "execution_timeout"
