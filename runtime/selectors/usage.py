"""What runs spent: a run's usage, a tenant's totals and a run's wall time
(budgets check them; the API, the console and the CLI show them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from runtime.models import Attempt, Job, RunUsage


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """What was spent (by a run, or a tenant's runs)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    model_calls: int = 0
    tool_calls: int = 0
    wall_seconds: float = 0.0  # a run's attempts' running time

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def amount(self, budget: str) -> float:
        return float(getattr(self, budget))

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens": self.tokens,
            "cost_usd": float(self.cost_usd),
            "model_calls": self.model_calls,
            "tool_calls": self.tool_calls,
            "wall_seconds": round(self.wall_seconds, 3),
        }


def usage_of(row: RunUsage) -> Usage:
    return Usage(
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=Decimal(row.cost_usd),
        model_calls=row.model_calls,
        tool_calls=row.tool_calls,
    )


def tenant_usage(*, tenant_id: str, graph: str = "") -> Usage:
    """The sum of a tenant's runs' usage (of one graph, if given)."""
    rows = RunUsage.objects.filter(tenant_id=tenant_id)
    if graph:
        rows = rows.filter(graph=graph)
    totals = rows.aggregate(
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cost_usd=Sum("cost_usd"),
        model_calls=Sum("model_calls"),
        tool_calls=Sum("tool_calls"),
    )
    return Usage(
        input_tokens=totals["input_tokens"] or 0,
        output_tokens=totals["output_tokens"] or 0,
        cost_usd=Decimal(totals["cost_usd"] or 0),
        model_calls=totals["model_calls"] or 0,
        tool_calls=totals["tool_calls"] or 0,
    )


def attempts_seconds(
    *, job: Job, at: datetime | None = None, exclude: str = ""
) -> float:
    """A run's wall time: its attempts' running time (a running one up to now)."""
    now: datetime = at or timezone.now()
    total = 0.0
    for started, finished in (
        Attempt.objects.filter(job=job, started_at__isnull=False)
        .exclude(pk=exclude)
        .values_list("started_at", "finished_at")
    ):
        if started is not None:
            total += ((finished or now) - started).total_seconds()
    return total


@dataclass(frozen=True, slots=True, kw_only=True)
class JobUsage:
    """A run's usage, the grants operators approved it, and its tenant's totals."""

    run: Usage
    grants: dict[str, Any]
    tenant: Usage


def job_usage(*, job: Job) -> JobUsage:
    """A job's usage (zero before its first model or tool call) and its
    tenant's totals."""
    row = RunUsage.objects.filter(pk=job.pk).first()
    mine = usage_of(row) if row is not None else Usage()
    run = Usage(
        input_tokens=mine.input_tokens,
        output_tokens=mine.output_tokens,
        cost_usd=mine.cost_usd,
        model_calls=mine.model_calls,
        tool_calls=mine.tool_calls,
        wall_seconds=attempts_seconds(job=job),
    )
    return JobUsage(
        run=run,
        grants=dict(row.grants) if row is not None else {},
        tenant=tenant_usage(tenant_id=job.tenant_id),
    )
