"""Crons of the Agent Server API: schedules that start durable runs.

A cron on a thread starts each run on that thread; a stateless cron starts each on
a new thread (deleted after its run unless ``on_run_completed`` is ``keep``). The
django-q2 schedule ``oris-crons`` calls ``crons_fire_due`` every minute: each due
cron is locked, its run created and its next date set in one transaction, so two
clusters never start the same occurrence twice and a crash starts it at most once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from django.db import transaction
from django.utils import timezone

from runtime.errors import InvalidArgument, NotFound, OrisError
from runtime.models import Cron, Thread
from runtime.services import agent_runs
from runtime.services.assistants import assistant_resolve
from runtime.services.audit import Actor, audit_record

logger = logging.getLogger(__name__)

# What each firing passes to its run, as the run endpoints take it.
RUN_FIELDS = (
    "input",
    "config",
    "context",
    "metadata",
    "interrupt_before",
    "interrupt_after",
    "webhook",
    "multitask_strategy",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "durability",
)


@dataclass(frozen=True, slots=True)
class CronSpec:
    """When a cron fires: its expression, time zone and end."""

    schedule: str
    timezone: str = ""
    end_time: datetime | None = None

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidArgument(f"unknown timezone '{self.timezone}'") from None

    def next_after(self, at: datetime) -> datetime | None:
        """The first firing strictly after ``at`` (UTC), or ``None`` past the end."""
        try:
            found = next(CronSim(self.schedule, at.astimezone(self.zone())))
        except CronSimError as exc:
            raise InvalidArgument(f"invalid cron schedule: {exc}") from None
        except StopIteration:  # e.g. a date that never comes again
            return None
        found = found.astimezone(ZoneInfo("UTC"))
        if self.end_time is not None and found > self.end_time:
            return None
        return found


def _spec(cron: Cron) -> CronSpec:
    return CronSpec(cron.schedule, cron.timezone, cron.end_time)


def cron_create(
    *,
    actor: Actor,
    assistant_id: str,
    schedule: str,
    thread_id: str | None = None,
    timezone_name: str = "",
    end_time: datetime | None = None,
    enabled: bool = True,
    on_run_completed: str = Cron.OnCompletion.DELETE,
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Cron:
    """Creates a cron (``thread_id``: on that thread, which must exist)."""
    now = at or timezone.now()
    assistant = assistant_resolve(assistant_id)
    spec = CronSpec(schedule.strip(), timezone_name, end_time)
    next_run = spec.next_after(now)
    run = {k: v for k, v in (payload or {}).items() if k in RUN_FIELDS}
    with transaction.atomic():
        thread = None
        if thread_id is not None:
            thread = Thread.objects.filter(pk=thread_id).first()
            if thread is None:
                raise NotFound(f"Thread '{thread_id}' not found")
        cron = Cron.objects.create(
            assistant_id=assistant.assistant_id,
            graph=assistant.graph,
            thread=thread,
            schedule=spec.schedule,
            timezone=timezone_name,
            end_time=end_time,
            enabled=enabled,
            on_run_completed=on_run_completed,
            payload=run,
            metadata=run.get("metadata") or {},
            user_id=actor.id or "",
            next_run_date=next_run if enabled else None,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            actor=actor,
            action="cron.create",
            resource_type="cron",
            resource_id=str(cron.pk),
            details={"schedule": cron.schedule, "graph": cron.graph},
            at=now,
        )
    return cron


def _locked(cron_id: uuid.UUID | str) -> Cron:
    found = Cron.objects.select_for_update().filter(pk=cron_id).first()
    if found is None:
        raise NotFound(f"Cron '{cron_id}' not found")
    return found


def cron_update(
    *, actor: Actor, cron_id: uuid.UUID | str, changes: dict[str, Any]
) -> Cron:
    """Changes a cron: its schedule, time zone, end, enabled flag, what its runs
    are given. The next date is computed again."""
    now = timezone.now()
    with transaction.atomic():
        cron = _locked(cron_id)
        for name in ("schedule", "end_time", "enabled", "on_run_completed"):
            if name in changes:
                setattr(cron, name, changes[name])
        if "timezone" in changes:
            cron.timezone = changes["timezone"] or ""
        run = {k: v for k, v in changes.items() if k in RUN_FIELDS}
        cron.payload = {**cron.payload, **run}
        if "metadata" in run:
            cron.metadata = run["metadata"] or {}
        cron.next_run_date = _spec(cron).next_after(now) if cron.enabled else None
        cron.updated_at = now
        cron.save()
        audit_record(
            actor=actor,
            action="cron.update",
            resource_type="cron",
            resource_id=str(cron.pk),
            details={"changed": sorted(changes)},
            at=now,
        )
    return cron


def cron_delete(*, actor: Actor, cron_id: uuid.UUID | str) -> None:
    with transaction.atomic():
        cron = _locked(cron_id)
        audit_record(
            actor=actor,
            action="cron.delete",
            resource_type="cron",
            resource_id=str(cron.pk),
            details={"schedule": cron.schedule, "graph": cron.graph},
        )
        cron.delete()


def crons_fire_due(*, at: datetime | None = None, limit: int = 100) -> int:
    """Starts the run of every cron due at ``at``; returns how many started.

    Each cron is locked (``SKIP LOCKED``: another cluster's sweep takes the
    others), fired and moved to its next date in one transaction. A missed window
    (the workers were down) fires once, not once per missed occurrence.
    """
    now = at or timezone.now()
    fired = 0
    for _ in range(limit):
        with transaction.atomic():
            cron = (
                Cron.objects.select_for_update(skip_locked=True)
                .filter(enabled=True, next_run_date__lte=now)
                .order_by("next_run_date")
                .first()
            )
            if cron is None:
                break
            try:
                with transaction.atomic():  # a refused run leaves the cron going
                    _fire(cron)
                fired += 1
            except OrisError as exc:
                logger.warning("cron %s did not start a run: %s", cron.pk, exc)
            cron.next_run_date = _spec(cron).next_after(now)
            cron.enabled = cron.next_run_date is not None
            cron.updated_at = now
            cron.save(update_fields=["next_run_date", "enabled", "updated_at"])
    return fired


def _fire(cron: Cron) -> None:
    """Creates one durable run for ``cron``, as the run endpoints create them."""
    request = dict(cron.payload)
    if cron.thread_id is None:
        request["on_completion"] = cron.on_run_completed
    agent_runs.run_create(
        actor=Actor(type="system", id=f"cron:{cron.pk}"),
        assistant_id=str(cron.assistant_id),
        request=request,
        thread_id=cron.thread_id,
    )
