"""Human approval of tool calls: the Oris interrupt payload and resume decisions.

The payload an agent pauses with (the original Oris shape)::

    {"action_requests": [{"name": "write_file", "args": {...}, "description": "..."}],
     "review_configs": [{"action_name": "write_file",
                         "allowed_decisions": ["approve", "edit", "reject"]}]}

and the value it is resumed with, one decision per action request, in order::

    {"decisions": [
        {"type": "approve"},
        {"type": "edit", "edited_action": {"name": "write_file", "args": {...}}},
        {"type": "reject", "message": "not that file"}]}

For operators typing into a console, ``True``/``"approve"`` approves every request,
``False``/``"reject"`` rejects every request, and a single decision dict applies to all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from agents.errors import ApprovalError
from graphs.messages import ToolCall, ToolMessage
from graphs.policy import InterruptPolicy

__all__ = [
    "DECISION_TYPES",
    "ActionRequest",
    "ApprovalPolicy",
    "Decision",
    "HITLRequest",
    "InterruptOnConfig",
    "ReviewConfig",
    "apply_decisions",
    "normalise_decisions",
]

DECISION_TYPES = ("approve", "edit", "reject")
REJECTED = "Tool call rejected by user."


class ActionRequest(TypedDict):
    """One tool call awaiting review."""

    name: str
    args: dict[str, Any]
    description: str


class ReviewConfig(TypedDict):
    """What the reviewer may decide about one action."""

    action_name: str
    allowed_decisions: list[str]


class HITLRequest(TypedDict):
    """The interrupt payload."""

    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig]


class Decision(TypedDict, total=False):
    """One reviewer decision."""

    type: Literal["approve", "edit", "reject"]
    edited_action: dict[str, Any]
    message: str


class InterruptOnConfig(TypedDict, total=False):
    """Per-tool approval settings (``interrupt_on={"write_file": {...}}``).

    ``policy`` is the approval policy the durable runtime enforces on the
    interrupt (who may decide, deadline, quorum, required reason).
    """

    enabled: bool
    allowed_decisions: list[str]
    description: str
    policy: InterruptPolicy


@dataclass(frozen=True, kw_only=True)
class ApprovalPolicy:
    """Which tools need approval, and what reviewers may decide.

    Args:
        tools: Tool name to its config; ``"*"`` applies to every other tool.
    """

    tools: Mapping[str, InterruptOnConfig] = field(default_factory=dict)

    @classmethod
    def from_interrupt_on(
        cls, interrupt_on: Mapping[str, bool | InterruptOnConfig] | None
    ) -> ApprovalPolicy:
        """Build from ``{tool: True | False | {"allowed_decisions": [...]}}``.

        Raises:
            ApprovalError: For an unknown decision type.
        """
        tools: dict[str, InterruptOnConfig] = {}
        for name, value in (interrupt_on or {}).items():
            config: InterruptOnConfig = (
                {"enabled": bool(value)} if isinstance(value, bool) else dict(value)  # type: ignore[assignment]
            )
            allowed = config.setdefault("allowed_decisions", list(DECISION_TYPES))
            unknown = set(allowed) - set(DECISION_TYPES)
            if unknown:
                raise ApprovalError(
                    f"Unknown decision types for {name}: {sorted(unknown)}"
                )
            policy = config.get("policy")
            if policy is not None and not isinstance(policy, InterruptPolicy):
                raise ApprovalError(
                    f"The policy for {name} must be a graphs.InterruptPolicy"
                )
            tools[name] = config
        return cls(tools=tools)

    def config_for(self, tool_name: str) -> InterruptOnConfig | None:
        """The config if ``tool_name`` needs approval, else ``None``."""
        config = self.tools.get(tool_name, self.tools.get("*"))
        if config is None or not config.get("enabled", True):
            return None
        return config

    def review_batches(
        self, calls: list[ToolCall]
    ) -> list[tuple[InterruptPolicy | None, list[ToolCall]]]:
        """``calls`` grouped by their tools' interrupt policy, in order of first
        appearance: each group is reviewed in one interrupt under its policy."""
        batches: dict[InterruptPolicy | None, list[ToolCall]] = {}
        for call in calls:
            policy = (self.config_for(call["name"]) or {}).get("policy")
            batches.setdefault(policy, []).append(call)
        return list(batches.items())

    def __bool__(self) -> bool:
        return any(c.get("enabled", True) for c in self.tools.values())

    def request(self, calls: list[ToolCall]) -> HITLRequest:
        """The interrupt payload for ``calls`` (all of which need approval)."""
        actions: list[ActionRequest] = []
        reviews: list[ReviewConfig] = []
        for call in calls:
            config = self.config_for(call["name"]) or {}
            description = config.get("description") or (
                "Tool execution requires approval\n\n"
                f"Tool: {call['name']}\n"
                f"Args: {json.dumps(call['args'], sort_keys=True)}"
            )
            actions.append(
                {
                    "name": call["name"],
                    "args": dict(call["args"]),
                    "description": description,
                }
            )
            reviews.append(
                {
                    "action_name": call["name"],
                    "allowed_decisions": list(
                        config.get("allowed_decisions", DECISION_TYPES)
                    ),
                }
            )
        return {"action_requests": actions, "review_configs": reviews}


def normalise_decisions(resume: Any, count: int) -> list[Decision]:
    """Turn a resume value into exactly ``count`` decisions.

    Args:
        resume: ``{"decisions": [...]}``, a list of decisions, one decision dict
            (applied to all), ``True``/``"approve"`` or ``False``/``"reject"``.
        count: Number of action requests.

    Returns:
        The decisions.

    Raises:
        ApprovalError: If the value cannot be read or the count does not match.
    """
    if isinstance(resume, bool) or resume in ("approve", "reject"):
        kind = "approve" if resume in (True, "approve") else "reject"
        return [{"type": kind} for _ in range(count)]  # type: ignore[typeddict-item]
    if isinstance(resume, Mapping) and "decisions" in resume:
        resume = resume["decisions"]
    elif isinstance(resume, Mapping) and "type" in resume:
        resume = [dict(resume) for _ in range(count)]
    if not isinstance(resume, list):
        raise ApprovalError(f"Cannot read approval decisions from {resume!r}")
    decisions = [_decision(d) for d in resume]
    if len(decisions) != count:
        raise ApprovalError(
            f"Expected {count} decision(s), one per action request; "
            f"got {len(decisions)}"
        )
    return decisions


def _decision(raw: Any) -> Decision:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, Mapping) or raw.get("type") not in DECISION_TYPES:
        raise ApprovalError(f"Not a decision: {raw!r}")
    decision: Decision = dict(raw)  # type: ignore[assignment]
    if decision["type"] == "edit":
        action = decision.get("edited_action")
        if not isinstance(action, Mapping) or not isinstance(
            action.get("args"), Mapping
        ):
            raise ApprovalError("An edit decision needs edited_action: {name, args}")
    return decision


def apply_decisions(
    policy: ApprovalPolicy, calls: list[ToolCall], decisions: list[Decision]
) -> tuple[dict[str, ToolCall], list[ToolMessage]]:
    """Apply reviewer decisions to the reviewed calls.

    Args:
        policy: The approval policy (for allowed decisions).
        calls: The reviewed calls, in action-request order.
        decisions: One decision per call.

    Returns:
        ``(edited, rejections)``: replacement calls by tool call id, and the
        error tool messages answering rejected calls.

    Raises:
        ApprovalError: If a decision is not allowed for its tool.
    """
    edited: dict[str, ToolCall] = {}
    rejections: list[ToolMessage] = []
    for call, decision in zip(calls, decisions, strict=True):
        allowed = (policy.config_for(call["name"]) or {}).get(
            "allowed_decisions", list(DECISION_TYPES)
        )
        if decision["type"] not in allowed:
            raise ApprovalError(
                f"Decision {decision['type']!r} is not allowed for {call['name']} "
                f"(allowed: {', '.join(allowed)})"
            )
        if decision["type"] == "edit":
            action = decision["edited_action"]
            edited[str(call["id"])] = {
                "name": str(action.get("name") or call["name"]),
                "args": dict(action["args"]),
                "id": call["id"],
                "type": "tool_call",
            }
        elif decision["type"] == "reject":
            reason = decision.get("message")
            rejections.append(
                ToolMessage(
                    f"{REJECTED} {reason}".strip() if reason else REJECTED,
                    tool_call_id=str(call["id"]),
                    name=call["name"],
                    status="error",
                )
            )
    return edited, rejections
