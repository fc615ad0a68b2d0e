"""The operator console: the Django admin's pages for Oris (registration side
effects). Every change goes through ``runtime.services``; see ``base.py``."""

from __future__ import annotations

from runtime.admin import (
    api_keys,
    audit,
    clusters,
    dead_letters,
    interrupts,
    jobs,
    policies,
)

__all__ = [
    "api_keys",
    "audit",
    "clusters",
    "dead_letters",
    "interrupts",
    "jobs",
    "policies",
]
