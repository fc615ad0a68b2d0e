"""Compare-and-set status changes, checked against the transition tables.

Every status write goes through here, or through hot-path SQL whose status sets
are rendered from the same tables (``allowed_sources``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from runtime.errors import InvalidTransition
from runtime.models.interrupts import INTERRUPT_TRANSITIONS, Interrupt
from runtime.models.jobs import ATTEMPT_TRANSITIONS, JOB_TRANSITIONS, Attempt, Job

TABLES: dict[type[models.Model], dict[str, frozenset[str]]] = {
    Job: JOB_TRANSITIONS,
    Attempt: ATTEMPT_TRANSITIONS,
    Interrupt: INTERRUPT_TRANSITIONS,
}


def allowed_sources(model: type[models.Model], to: str) -> list[str]:
    """The statuses from which ``model`` rows may move to ``to``."""
    return [s for s, targets in TABLES[model].items() if to in targets]


def _sources(
    model: type[models.Model], to: str, given: Iterable[str] | None
) -> list[str]:
    allowed = allowed_sources(model, to)
    return allowed if given is None else [s for s in allowed if s in set(given)]


def transition(
    model: type[models.Model],
    pk: Any,
    *,
    to: str,
    sources: Iterable[str] | None = None,
    required: bool = True,
    **fields: Any,
) -> bool:
    """Moves row ``pk`` to status ``to`` from any allowed (and given) source status.

    Raises ``InvalidTransition`` when the row is not in such a status any more
    (someone else moved it first), unless ``required`` is false: then it returns
    whether the row moved.
    """
    updated = model._default_manager.filter(
        pk=pk, status__in=_sources(model, to, sources)
    ).update(status=to, **fields)
    if updated == 1 or not required:
        return updated == 1
    current = (
        model._default_manager.filter(pk=pk).values_list("status", flat=True).first()
    )
    raise InvalidTransition(
        f"{model.__name__} {pk} cannot move from {current!r} to {to!r}",
        details={"current_status": current, "requested_status": to},
    )


def transition_all(
    rows: models.QuerySet[Any],
    *,
    to: str,
    sources: Iterable[str] | None = None,
    **fields: Any,
) -> int:
    """Moves every row of ``rows`` that may move to ``to`` (from the given
    sources); returns how many moved."""
    allowed = _sources(rows.model, to, sources)
    return rows.filter(status__in=allowed).update(status=to, **fields)
