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


DECISIONS = ("approve", "edit", "reject")


def is_tool_approval(value: Any) -> bool:
    """An agent's tool-approval request: ``action_requests`` of name + args.
    Anything else a graph interrupts with is shown as plain JSON."""
    if not isinstance(value, dict):
        return False
    requests = value.get("action_requests")
    return (
        isinstance(requests, list)
        and bool(requests)
        and all(_is_call(r) for r in requests)
    )


def _is_call(request: Any) -> bool:
    return isinstance(request, dict) and isinstance(request.get("name"), str)


def action_requests(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The action requests of a tool approval with their allowed decisions, in
    request order. Review configs of the wrong shape are ignored (every decision
    is then allowed), so no payload can break the page."""
    configs = value.get("review_configs")
    reviews = {
        r["action_name"]: [d for d in r["allowed_decisions"] if d in DECISIONS]
        for r in (configs if isinstance(configs, list) else [])
        if isinstance(r, dict)
        and isinstance(r.get("action_name"), str)
        and isinstance(r.get("allowed_decisions"), list)
    }
    return [
        {
            "index": index,
            "name": request["name"],
            "args": request.get("args") or {},
            "description": str(request.get("description") or ""),
            "allowed": reviews.get(request["name"]) or list(DECISIONS),
        }
        for index, request in enumerate(value["action_requests"])
    ]


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
    kinds = (str(d.get("type")) for d in decisions)
    counts = Counter(done.get(kind, kind) for kind in kinds)
    return ", ".join(f"{n} {word}" for word, n in counts.items())


def mermaid_with_current(diagram: str, current: tuple[str, ...]) -> str:
    """The graph's Mermaid source with the nodes the run stands at highlighted."""
    if not current:
        return diagram
    lines = [diagram.rstrip()]
    lines.append("\tclassDef current fill:#ffd54f,stroke:#e65100,stroke-width:3px")
    lines.extend(f"\tclass {node} current" for node in current)
    return "\n".join(lines) + "\n"
