"""Making payloads, states and graphs readable for operators."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString


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


TITLE_KEYS = ("title", "question", "prompt", "message", "description")
# Keys of a request that tell the console how to answer it, not what it asks.
HINT_KEYS = ("response_schema", "state_keys")


def request_title(value: Any) -> str:
    """What a request asks, in a few words: its title or question, else what kind
    of request it is."""
    if is_tool_approval(value):
        names = ", ".join(r["name"] for r in action_requests(value))
        count = len(value["action_requests"])
        return f"Approve {count} tool call{'s' if count > 1 else ''}: {names}"
    if isinstance(value, dict):
        for key in TITLE_KEYS:
            if isinstance(value.get(key), str) and value[key].strip():
                return value[key].strip().splitlines()[0]
        return "Answer requested"
    if isinstance(value, str) and value.strip():
        return value.strip().splitlines()[0]
    return "Answer requested"


def request_summary(value: Any) -> str:
    """A request in one line: each tool call with its key arguments, or the
    payload's other fields."""
    if is_tool_approval(value):
        return " · ".join(
            f"{r['name']}({_arguments(r['args'])})" for r in action_requests(value)
        )
    if isinstance(value, dict):
        title = next((k for k in TITLE_KEYS if isinstance(value.get(k), str)), None)
        rest = {k: v for k, v in value.items() if k != title and k != "response_schema"}
        return " · ".join(f"{k}: {_scalar(v)}" for k, v in rest.items())
    return "" if isinstance(value, str) else compact_json(value)


def _arguments(args: Any) -> str:
    if not isinstance(args, dict):
        return compact_json(args)
    return ", ".join(f"{k}={_scalar(v)}" for k, v in args.items())


def _scalar(value: Any) -> str:
    text = value if isinstance(value, str) else compact_json(value)
    return " ".join(text.split())


def truncated(text: str, *, css: str = "oris-cell") -> SafeString:
    """A list cell cut to its column by CSS, the whole text on hover."""
    return format_html('<span class="{}" title="{}">{}</span>', css, text, text)


def status_badge(status: str) -> SafeString:
    return format_html(
        '<span class="oris-status oris-status-{}">{}</span>', status, status
    )


def approve_all(value: Any) -> dict[str, Any]:
    """The resume value approving every action request of a tool approval."""
    return {"decisions": [{"type": "approve"} for _ in value["action_requests"]]}


def decisions_summary(decisions: list[dict[str, Any]]) -> str:
    """``"1 approved, 1 edited, 1 rejected"``: what was decided about the calls."""
    done = {"approve": "approved", "edit": "edited", "reject": "rejected"}
    counts = Counter(done.get(d["type"], d["type"]) for d in decisions)
    return ", ".join(f"{n} {word}" for word, n in counts.items())


def mermaid_with_progress(
    diagram: str,
    *,
    current: tuple[str, ...] = (),
    done: tuple[str, ...] = (),
    failed: tuple[str, ...] = (),
) -> str:
    """The graph's Mermaid source with the run's progress drawn on it: nodes it
    finished, the one that failed, and where it stands now."""
    lines = [diagram.rstrip()]
    styles = (
        ("done", "fill:#d7f5dd,stroke:#1b7f2a", [n for n in done if n not in failed]),
        ("failed", "fill:#fde2e1,stroke:#b3261e,stroke-width:3px", list(failed)),
        (
            "current",
            "fill:#ffd54f,stroke:#e65100,stroke-width:3px",
            [n for n in current if n not in failed],
        ),
    )
    for name, style, nodes in styles:
        if nodes:
            lines.append(f"\tclassDef {name} {style}")
            lines.extend(f"\tclass {node} {name}" for node in dict.fromkeys(nodes))
    return "\n".join(lines) + "\n"


def duration(ms: int | None) -> str:
    """Milliseconds as people read them: ``850 ms``, ``2.4 s``, ``3 min 5 s``."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
