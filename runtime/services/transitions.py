"""Compare-and-set status changes, checked against the transition tables."""

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


def transition(
    model: type[models.Model],
    pk: Any,
    *,
    to: str,
    sources: Iterable[str] | None = None,
    **fields: Any,
) -> None:
    """Moves row ``pk`` to status ``to`` from any allowed (and given) source status.

    Raises ``InvalidTransition`` when the row is not in such a status any more:
    someone else moved it first.
    """
    allowed = allowed_sources(model, to)
    if sources is not None:
        allowed = [s for s in allowed if s in set(sources)]
    updated = model._default_manager.filter(pk=pk, status__in=allowed).update(
        status=to, **fields
    )
    if updated != 1:
        current = (
            model._default_manager.filter(pk=pk)
            .values_list("status", flat=True)
            .first()
        )
        raise InvalidTransition(
            f"{model.__name__} {pk} cannot move from {current!r} to {to!r}",
            details={"current_status": current, "requested_status": to},
        )
