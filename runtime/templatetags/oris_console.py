"""Template tags of the operator console (the counts on the admin index)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from runtime import selectors
from runtime.admin.formatting import compact_json, duration

register = template.Library()

# (count key, label, model whose view permission shows it, changelist query)
COUNTS = (
    ("pending_interrupts", "pending interrupts", "interrupt", "status__exact=pending"),
    (
        "pending_dead_letters",
        "pending dead letters",
        "deadletter",
        "replay_status__exact=pending",
    ),
    ("running", "running", "job", "status__exact=running"),
    ("queued", "queued", "job", "status__exact=queued"),
    ("failed_24h", "failed in the last 24 hours", "job", "status__exact=failed"),
)


@register.simple_tag(takes_context=True)
def oris_counts(context: dict[str, Any]) -> list[dict[str, Any]]:
    """The counts the user may see, each linking to its filtered list."""
    user = context["request"].user
    visible = [c for c in COUNTS if user.has_perm(f"runtime.view_{c[2]}")]
    if not visible:
        return []
    values = selectors.console_counts()
    return [
        {
            "key": key,
            "label": label,
            "value": values[key],
            "url": f"{reverse(f'admin:runtime_{model}_changelist')}?{query}",
        }
        for key, label, model, query in visible
    ]


@register.filter
def oris_json(value: Any) -> str:
    """A value as compact JSON, for state and argument cells."""
    return compact_json(value)


@register.filter
def oris_duration(ms: int | None) -> str:
    """Milliseconds as people read them (``formatting.duration``)."""
    return duration(ms)
