"""Making payloads, states and graphs readable for operators."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

MAX_SUMMARY = 160


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def is_tool_approval(value: Any) -> bool:
    """An agent's tool-approval request: ``action_requests`` of name + args."""
    if not isinstance(value, dict):
        return False
    requests = value.get("action_requests")
    return (
        isinstance(requests, list)
        and bool(requests)
        and all(isinstance(r, dict) and "name" in r for r in requests)
    )


def action_requests(value: Any) -> list[dict[str, Any]]:
    """The action requests with their allowed decisions, in request order.

    The payload comes from a graph, so any part of it may be malformed: what is
    not the expected shape is read as absent (all decisions allowed), never an
    error, so one bad row cannot break the inbox.
    """
    configs = value.get("review_configs")
    reviews = {
        str(r.get("action_name")): _decisions(r.get("allowed_decisions"))
        for r in (configs if isinstance(configs, list) else [])
        if isinstance(r, dict)
    }
    return [
        {
            "index": index,
            "name": str(request["name"]),
            "args": request.get("args") or {},
            "description": str(request.get("description") or ""),
            "allowed": reviews.get(str(request["name"])) or list(ALL_DECISIONS),
        }
        for index, request in enumerate(value["action_requests"])
    ]


ALL_DECISIONS = ("approve", "edit", "reject")


def _decisions(allowed: Any) -> list[str]:
    if not isinstance(allowed, list):
        return []
    return [d for d in allowed if isinstance(d, str)]


def payload_summary(value: Any) -> SafeString:
    """A list cell: a table of tool calls, or the payload's JSON, shortened."""
    if is_tool_approval(value):
        rows = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            (
                (r["name"], _shorten(compact_json(r["args"])))
                for r in action_requests(value)
            ),
        )
        return format_html(
            '<table class="oris-tools"><thead><tr><th>tool</th><th>arguments</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )
    return format_html("<code>{}</code>", _shorten(compact_json(value)))


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def approve_all(value: Any) -> dict[str, Any]:
    """The resume value approving every action request of a tool approval."""
    return {"decisions": [{"type": "approve"} for _ in value["action_requests"]]}


def decisions_summary(decisions: list[dict[str, Any]]) -> str:
    """``"1 approved, 1 edited, 1 rejected"``: what was decided about the calls."""
    done = {"approve": "approved", "edit": "edited", "reject": "rejected"}
    counts = Counter(done.get(d["type"], d["type"]) for d in decisions)
    return ", ".join(f"{n} {word}" for word, n in counts.items())


def mermaid_with_current(diagram: str, current: tuple[str, ...]) -> str:
    """The graph's Mermaid source with the nodes the run stands at highlighted."""
    if not current:
        return diagram
    lines = [diagram.rstrip()]
    lines.append("\tclassDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px")
    lines.extend(f"\tclass {node} current" for node in current)
    return "\n".join(lines) + "\n"
