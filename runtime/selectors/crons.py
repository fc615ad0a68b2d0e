"""Reads of the Agent Server's crons (search, count)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from runtime.errors import NotFound
from runtime.models import Cron
from runtime.services.assistants import assistant_resolve

CRON_SORTS = (
    "cron_id",
    "assistant_id",
    "thread_id",
    "created_at",
    "updated_at",
    "next_run_date",
    "end_time",
)


def cron_get(*, cron_id: uuid.UUID | str) -> Cron:
    found = Cron.objects.filter(pk=cron_id).first()
    if found is None:
        raise NotFound(f"Cron '{cron_id}' not found")
    return found


def crons_matching(
    *,
    assistant_id: str | None = None,
    thread_id: str | None = None,
    enabled: bool | None = None,
    metadata: dict[str, Any] | None = None,
) -> QuerySet[Cron]:
    """Crons of an assistant (id or graph name) and thread, enabled or not, whose
    metadata holds every key and value of ``metadata``."""
    found = Cron.objects.all()
    if assistant_id is not None:
        found = found.filter(assistant_id=assistant_resolve(assistant_id).assistant_id)
    if thread_id is not None:
        found = found.filter(thread_id=thread_id)
    if enabled is not None:
        found = found.filter(enabled=enabled)
    for key, value in (metadata or {}).items():
        found = found.filter(Q(**{f"metadata__{key}": value}))
    return found


def cron_search(
    *,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    **matching: Any,
) -> list[Cron]:
    field = sort_by if sort_by in CRON_SORTS else "created_at"
    field = "pk" if field == "cron_id" else field
    order = f"-{field}" if sort_order == "desc" else field
    return list(
        crons_matching(**matching).order_by(order, "pk")[offset : offset + limit]
    )
