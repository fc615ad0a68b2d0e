"""Budgets enforced while durable runs execute, and the usage they meter.

The runtime installs :data:`GATE` as ``agents``' call gate (at startup) and runs
each attempt inside :func:`metering`. Before every model call made through
``agents`` the run's token, cost and wall-time budgets are checked, before every
tool call its tool-call and wall-time budgets; after each call its usage (tokens,
cost from the reply's ``cost_usd`` or the ``ORIS_PRICES`` table, calls) is added
to the run's :class:`~runtime.models.RunUsage` row with one ``UPDATE``.

A spent budget whose policy says ``pause`` interrupts the run where the call
was about to happen (``graphs.interrupt``) with a ``budget_exceeded`` request.
The operator's answer (``{"approve": N}``, or ``true`` for the suggested amount)
is recorded as a grant on the run and raises that budget for it; rejecting
cancels the run as for any interrupt. A policy that says ``fail`` fails the
call with :class:`BudgetExceeded`.

Tenant budgets sum the usage of the tenant's runs (of the policy's graph, if it
names one); a grant raises the budget for the run it was given to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from agents import instrumentation
from graphs import interrupt
from graphs.errors import GraphInterrupt
from graphs.messages import AIMessage
from runtime import metrics
from runtime.models import Attempt, BudgetPolicy, Job, RunUsage
from runtime.selectors.usage import Usage, attempts_seconds, tenant_usage, usage_of
from runtime.services.audit import Actor, audit_record
from runtime.services.policies import policy_delete, policy_save

logger = logging.getLogger(__name__)

BUDGET_EXCEEDED = "budget_exceeded"
# What each kind of call is checked against.
BEFORE_MODEL = ("tokens", "cost_usd", "wall_seconds")
BEFORE_TOOL = ("tool_calls", "wall_seconds")
_LIMIT_FIELDS = {
    "tokens": "max_tokens",
    "cost_usd": "max_cost_usd",
    "tool_calls": "max_tool_calls",
    "wall_seconds": "max_wall_seconds",
}


class BudgetExceeded(Exception):
    """A run's budget is spent and its policy fails the run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Exceeded:
    """A budget a call would go over."""

    scope: str
    budget: str
    limit: float  # the policy's limit plus what operators granted this run
    used: float
    on_exceed: str

    @property
    def key(self) -> str:
        """Names this pause among the run's grants (a second pause of the same
        budget has a higher limit, so a new key; a re-run of the node after a
        crash finds the same one)."""
        return f"{self.scope}:{self.budget}:{self.limit:g}"

    def suggested(self, base: float) -> float:
        """What the request offers to approve: the policy's limit once more."""
        amount = base or self.limit
        return round(amount, 6) if self.budget == "cost_usd" else int(amount)

    def request(self, base: float) -> dict[str, Any]:
        """The interrupt's value: readable, with the answer's schema for the
        console's form."""
        more = self.suggested(base)
        number = "number" if self.budget == "cost_usd" else "integer"
        return {
            "type": BUDGET_EXCEEDED,
            "question": f"budget exceeded: approve {more:g} more {self.budget}?",
            "scope": self.scope,
            "budget": self.budget,
            "limit": self.limit,
            "used": self.used,
            "response_schema": {
                "type": "object",
                "required": ["approve"],
                "properties": {
                    "approve": {
                        "type": number,
                        "minimum": 0,
                        "default": more,
                        "description": f"{self.budget} to add to this run's budget",
                    }
                },
            },
        }


def _matching(rows: list[BudgetPolicy], graph: str, tenant: str) -> BudgetPolicy | None:
    by_key = {(r.graph, r.tenant_id): r for r in rows}
    for key in ((graph, tenant), (graph, ""), ("", tenant), ("", "")):
        if key in by_key:
            return by_key[key]
    return None


def budget_policies(*, graph: str, tenant_id: str) -> dict[str, BudgetPolicy]:
    """The run-scope and tenant-scope policies of a run (most specific each)."""
    rows = list(
        BudgetPolicy.objects.filter(
            graph__in=[graph, ""], tenant_id__in=[tenant_id, ""]
        )
    )
    found = {}
    for scope in BudgetPolicy.Scope:
        match = _matching([r for r in rows if r.scope == scope], graph, tenant_id)
        if match is not None:
            found[str(scope)] = match
    return found


def call_cost(start: instrumentation.ModelStart, reply: AIMessage | None) -> Decimal:
    """A model call's cost: what the reply says, else ``ORIS_PRICES`` (USD per
    million input and output tokens, by ``provider:model`` or model name)."""
    if reply is None:
        return Decimal(0)
    stated = reply.response_metadata.get("cost_usd")
    if stated is not None:
        return Decimal(str(stated))
    usage = reply.usage_metadata
    prices = settings.ORIS_PRICES
    price = prices.get(f"{start.provider}:{start.model}") or prices.get(start.model)
    if usage is None or not price:
        return Decimal(0)
    total = usage["input_tokens"] * float(price.get("input", 0))
    total += usage["output_tokens"] * float(price.get("output", 0))
    return Decimal(str(round(total / 1_000_000, 8)))


def run_usage_row(job: Job) -> RunUsage:
    """The run's usage row, created on its first metered attempt."""
    row, _ = RunUsage.objects.get_or_create(
        job=job,
        defaults={
            "tenant_id": job.tenant_id,
            "graph": job.graph,
            "updated_at": timezone.now(),
        },
    )
    return row


class RunMeter:
    """One attempt's budgets and usage (made by :func:`metering`). Nothing is
    read until the run makes its first model or tool call."""

    def __init__(self, job: Job, attempt: Attempt) -> None:
        self.job = job
        self.attempt = attempt
        self.started = time.monotonic()
        self._policies: dict[str, BudgetPolicy] | None = None
        self._row: RunUsage | None = None
        self._earlier = 0.0  # wall time of the run's other attempts

    @property
    def row(self) -> RunUsage:
        if self._row is None:
            self._row = run_usage_row(self.job)
        return self._row

    @property
    def policies(self) -> dict[str, BudgetPolicy]:
        if self._policies is None:
            self._policies = budget_policies(
                graph=self.job.graph, tenant_id=self.job.tenant_id
            )
            if any(p.max_wall_seconds is not None for p in self._policies.values()):
                self._earlier = attempts_seconds(job=self.job, exclude=self.attempt.pk)
        return self._policies

    def elapsed(self) -> float:
        return self._earlier + time.monotonic() - self.started

    def check(self, budgets: tuple[str, ...], *, adding: int = 0) -> None:
        """Pauses (or fails) the run while a budget in ``budgets`` is spent;
        ``adding`` is what the call itself adds to ``tool_calls``."""
        if not self.policies:
            return
        while (over := self._over(budgets, adding)) is not None:
            policy = self.policies[over.scope]
            labels = {
                "scope": over.scope,
                "budget": over.budget,
                "on_exceed": over.on_exceed,
            }
            if over.on_exceed == BudgetPolicy.OnExceed.FAIL:
                metrics.seen("budget_exceeded_total", **labels)
                raise BudgetExceeded(
                    f"{over.scope} budget of {over.budget} exceeded: "
                    f"{over.used:g} used of {over.limit:g}"
                )
            base = float(getattr(policy, _LIMIT_FIELDS[over.budget]) or 0)
            try:
                answer = interrupt(over.request(base))
            except GraphInterrupt:  # paused (a re-run finds the answer instead)
                metrics.seen("budget_exceeded_total", **labels)
                raise
            self._grant(over, _approved(answer, over.suggested(base)))

    def _over(self, budgets: tuple[str, ...], adding: int) -> Exceeded | None:
        self.row.refresh_from_db()
        grants = self.row.grants or {}
        for scope, policy in self.policies.items():
            used = self._used(scope, policy)
            for budget in budgets:
                limit = getattr(policy, _LIMIT_FIELDS[budget])
                if limit is None:
                    continue
                total = float(limit) + sum(
                    float(amount)
                    for key, amount in grants.items()
                    if key.startswith(f"{scope}:{budget}:")
                )
                spent = used.amount(budget)
                extra = adding if budget == "tool_calls" else 0
                if (spent + extra > total) if extra else (spent >= total):
                    return Exceeded(
                        scope=scope,
                        budget=budget,
                        limit=total,
                        used=spent,
                        on_exceed=policy.on_exceed,
                    )
        return None

    def _used(self, scope: str, policy: BudgetPolicy) -> Usage:
        if scope == BudgetPolicy.Scope.RUN:
            mine = usage_of(self.row)
        else:
            mine = tenant_usage(tenant_id=self.job.tenant_id, graph=policy.graph)
        return Usage(
            input_tokens=mine.input_tokens,
            output_tokens=mine.output_tokens,
            cost_usd=mine.cost_usd,
            model_calls=mine.model_calls,
            tool_calls=mine.tool_calls,
            wall_seconds=self.elapsed(),
        )

    def _grant(self, over: Exceeded, amount: float) -> None:
        """Records an approved pause on the run (idempotent by its key)."""
        with transaction.atomic():
            row = RunUsage.objects.select_for_update().get(pk=self.row.pk)
            if over.key in row.grants:
                return
            row.grants = {**row.grants, over.key: amount}
            row.save(update_fields=["grants"])
            audit_record(
                actor=Actor.system(),
                action="budget.granted",
                resource_type="thread",
                resource_id=self.job.thread_id,
                details={
                    "scope": over.scope,
                    "budget": over.budget,
                    "amount": amount,
                    "limit": over.limit,
                    "used": over.used,
                },
            )

    def record_model(
        self, start: instrumentation.ModelStart, reply: AIMessage | None
    ) -> None:
        usage = reply.usage_metadata if reply is not None else None
        cost = call_cost(start, reply)
        RunUsage.objects.filter(pk=self.row.pk).update(
            input_tokens=F("input_tokens") + (usage["input_tokens"] if usage else 0),
            output_tokens=F("output_tokens") + (usage["output_tokens"] if usage else 0),
            cost_usd=F("cost_usd") + cost,
            model_calls=F("model_calls") + 1,
            updated_at=timezone.now(),
        )
        tenant = {"tenant": self.job.tenant_id}
        if usage:
            tokens = usage["input_tokens"] + usage["output_tokens"]
            metrics.inc_now("tenant_tokens_total", tokens, **tenant)
        if cost:
            metrics.inc_now("tenant_cost_usd_total", float(cost), **tenant)
        if cost and reply is not None and "cost_usd" not in reply.response_metadata:
            # priced here (ORIS_PRICES), not by the model: counted here too
            labels = {"provider": start.provider, "model": start.model}
            metrics.inc_now("llm_cost_usd_total", float(cost), **labels)

    def record_tool(self) -> None:
        RunUsage.objects.filter(pk=self.row.pk).update(
            tool_calls=F("tool_calls") + 1, updated_at=timezone.now()
        )


def _approved(answer: Any, suggested: float) -> float:
    """The amount an operator's answer approves (``true``: the suggested one)."""
    if answer is True:
        return suggested
    if isinstance(answer, dict):
        answer = answer.get("approve", 0)
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        raise BudgetExceeded(f"a budget answer must approve an amount, not {answer!r}")
    if answer <= 0:
        raise BudgetExceeded("the operator approved no more budget")
    return float(answer)


_current: ContextVar[RunMeter | None] = ContextVar("oris_run_meter", default=None)


class BudgetGate:
    """``agents``' call gate: the current run's meter checks and records."""

    def before_model(self, start: instrumentation.ModelStart) -> None:
        meter = _current.get()
        if meter is not None:
            meter.check(BEFORE_MODEL)

    def after_model(
        self,
        start: instrumentation.ModelStart,
        *,
        reply: AIMessage | None,
        error: BaseException | None,
    ) -> None:
        meter = _current.get()
        if meter is not None:
            meter.record_model(start, reply)

    def before_tool(self, start: instrumentation.ToolStart) -> None:
        meter = _current.get()
        if meter is not None:
            meter.check(BEFORE_TOOL, adding=1)

    def after_tool(
        self, start: instrumentation.ToolStart, *, error: BaseException | None
    ) -> None:
        meter = _current.get()
        if meter is not None:
            meter.record_tool()


GATE = BudgetGate()


@contextmanager
def metering(job: Job, attempt: Attempt) -> Iterator[RunMeter]:
    """Meters the calls made while it is open (the thread pool of a graph's
    nodes inherits it: graphs copies the context into each task)."""
    meter = RunMeter(job, attempt)
    token = _current.set(meter)
    try:
        yield meter
    finally:
        _current.reset(token)


def budget_policy_save(*, policy: BudgetPolicy, actor: Actor) -> BudgetPolicy:
    """Creates or changes a budget policy (the console's form), audited."""
    return policy_save(
        policy=policy, actor=actor, resource="budget_policy", details=_details
    )


def budget_policy_delete(*, policy: BudgetPolicy, actor: Actor) -> None:
    """Removes a budget policy (its runs fall back to a wider one), audited."""
    policy_delete(
        policy=policy, actor=actor, resource="budget_policy", details=_details
    )


def _details(policy: BudgetPolicy) -> dict[str, Any]:
    return {
        "graph": policy.graph,
        "tenant_id": policy.tenant_id,
        "scope": policy.scope,
        "max_tokens": policy.max_tokens,
        "max_cost_usd": None
        if policy.max_cost_usd is None
        else str(policy.max_cost_usd),
        "max_tool_calls": policy.max_tool_calls,
        "max_wall_seconds": policy.max_wall_seconds,
        "on_exceed": policy.on_exceed,
    }
