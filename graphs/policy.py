"""Who may answer an interrupt, by when, and how many must agree.

An :class:`InterruptPolicy` is plain data declared with the interrupt
(``interrupt(value, policy=InterruptPolicy(...))``) and stored with it. The engine
only carries it; the durable runtime enforces it (assignment, claiming, deadlines,
quorum, reasons). Without a runtime, a policy changes nothing: ``invoke`` pauses
and resumes exactly as without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any, Literal

__all__ = ["InterruptPolicy"]

OnExpiry = Literal["reject", "escalate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptPolicy:
    """An approval policy for one interrupt.

    Args:
        assignee: The one principal who may answer: a user name (``"alice"``,
            or ``"user:alice"``) or an API key (``"api_key:<key id>"``).
        group: A group whose members may answer: a Django group for console
            users (``"oris-operator"``, ``"finance"``); API keys are members of
            ``"oris-<role>"``. With both ``assignee`` and ``group``, either may.
        timeout: Seconds (or a ``timedelta``) from the pause to the deadline.
        on_expiry: At the deadline, ``"reject"`` the interrupt (the run is
            cancelled with a reason) or ``"escalate"`` it to ``escalate_to``,
            which gets the same ``timeout`` again before it is rejected.
        escalate_to: The group an expired interrupt is handed to.
        reason_required: Whether every answer (approve or reject) must say why.
        quorum: Approvals from distinct people needed before the run continues;
            they must approve the same answer, and one rejection ends it.

    Raises:
        ValueError: For a policy that cannot be enforced (a quorum below 1, a
            negative timeout, escalation without a group or a deadline).
    """

    assignee: str | None = None
    group: str | None = None
    timeout: float | timedelta | None = None
    on_expiry: OnExpiry = "reject"
    escalate_to: str | None = None
    reason_required: bool = False
    quorum: int = 1

    def __post_init__(self) -> None:
        timeout = self.timeout
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
            object.__setattr__(self, "timeout", timeout)
        if timeout is not None and timeout <= 0:
            raise ValueError("InterruptPolicy.timeout must be positive")
        if isinstance(self.quorum, bool) or int(self.quorum) != self.quorum:
            raise ValueError("InterruptPolicy.quorum must be an integer")
        if self.quorum < 1:
            raise ValueError("InterruptPolicy.quorum must be at least 1")
        if self.on_expiry not in ("reject", "escalate"):
            raise ValueError("InterruptPolicy.on_expiry must be reject or escalate")
        if self.on_expiry == "escalate" and not (self.escalate_to and self.timeout):
            raise ValueError("escalating needs escalate_to and a timeout")

    @property
    def timeout_seconds(self) -> float | None:
        """The timeout in seconds (``timeout`` is stored as seconds)."""
        timeout = self.timeout
        if isinstance(timeout, timedelta):  # never after __post_init__; for mypy
            return timeout.total_seconds()
        return None if timeout is None else float(timeout)

    def to_json(self) -> dict[str, Any]:
        """The policy as a JSON object (every field, defaults included)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InterruptPolicy:
        """A policy from :meth:`to_json` output; unknown keys are an error.

        Raises:
            ValueError: For unknown keys or an invalid policy.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown InterruptPolicy fields: {sorted(unknown)}")
        return cls(**dict(data))
