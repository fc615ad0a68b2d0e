"""Budgets enforced while durable runs execute, and the usage they meter.

Budgets are checked at the effect layer (``graphs.effects``): each attempt's
:class:`RunMeter` is the ``before`` and ``after`` hook of the run's
``EffectOptions`` (``runtime.worker.execute.effect_options``), so every effect
that is sent is checked, and one answered from the ledger is never charged
twice. What an effect is held to is its ``counts_as``: a ``model_call`` (the
model calls of ``agents``) is checked against the run's token, cost and
wall-time budgets and its usage (tokens, cost from the reply's ``cost_usd`` or
the ``ORIS_PRICES`` table) is added to the run's :class:`~runtime.models.RunUsage`
row with one ``UPDATE`` when it returns; a ``tool_call`` (the tools of
``agents``, or ``@graphs.effect(counts_as="tool_call")``) reserves its place
with a guarded ``UPDATE ... WHERE tool_calls < limit`` before it runs, so
parallel tool calls never go over; any other effect is checked against wall
time.

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
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from graphs import interrupt
from graphs.effects import Effect, EffectOptions
from graphs.errors import GraphInterrupt
from runtime import metrics
from runtime.models import Attempt, BudgetPolicy, Job, RunUsage
from runtime.selectors.usage import Usage, attempts_seconds, tenant_usage, usage_of
from runtime.services.audit import Actor, audit_record
from runtime.services.policies import policy_delete, policy_save

logger = logging.getLogger(__name__)

BUDGET_EXCEEDED = "budget_exceeded"
# What each kind of effect is checked against before it runs (a tool call is
# then checked against tool_calls by its reservation).
BEFORE: dict[str | None, tuple[str, ...]] = {
    "model_call": ("tokens", "cost_usd", "wall_seconds"),
    "tool_call": ("wall_seconds",),
    None: ("wall_seconds",),
}
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


def call_cost(*, name: str, usage: dict[str, int], stated: float) -> Decimal:
    """A model call's cost: what the reply stated (``stated``, 0 when it did
    not), else ``ORIS_PRICES`` (USD per million input and output tokens, by
    ``provider:model`` or model name)."""
    if stated:
        return Decimal(str(stated))
    prices = settings.ORIS_PRICES
    price = prices.get(name) or prices.get(name.rpartition(":")[2])
    if not usage or not price:
        return Decimal(0)
    total = usage.get("input_tokens", 0) * float(price.get("input", 0))
    total += usage.get("output_tokens", 0) * float(price.get("output", 0))
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
    """One attempt's budgets and usage: the ``before``/``after`` hooks of its
    effects (:meth:`options`). Nothing is read until the run's first effect."""

    def __init__(self, job: Job, attempt: Attempt) -> None:
        self.job = job
        self.attempt = attempt
        self.started = time.monotonic()
        self._policies: dict[str, BudgetPolicy] | None = None
        self._row: RunUsage | None = None
        self._earlier = 0.0  # wall time of the run's other attempts

    def options(self, **extra: Any) -> EffectOptions:
        """The run's effect options with this meter as their budget gate."""
        return EffectOptions(before=[self.before], after=[self.after], **extra)

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

    def before(self, effect: Effect) -> None:
        """Before an effect is sent: pauses (or fails) the run while a budget
        it is held to is spent; a tool call then reserves its place."""
        while True:
            over = self._over(BEFORE[effect.counts_as]) if self.policies else None
            if over is None and effect.counts_as == "tool_call":
                over = self._reserve_tool_call()
            if over is None:
                return
            self._exceeded(over)

    def after(self, effect: Effect, error: BaseException | None) -> None:
        """After an effect was sent: a model call's usage is metered."""
        if effect.counts_as == "model_call":
            self.record_model(effect)

    def _exceeded(self, over: Exceeded) -> None:
        """Fails the run (``fail`` policy) or pauses it for an operator's grant,
        recorded when answered (the caller checks again)."""
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

    def _limit(self, scope: str, budget: str, grants: dict[str, Any]) -> float | None:
        """A budget's limit for this run: the policy's plus the run's grants."""
        limit = getattr(self.policies[scope], _LIMIT_FIELDS[budget])
        if limit is None:
            return None
        return float(limit) + sum(
            float(amount)
            for key, amount in grants.items()
            if key.startswith(f"{scope}:{budget}:")
        )

    def _reserve_tool_call(self) -> Exceeded | None:
        """Counts a tool call about to run, unless that goes over a tool-call
        budget (then nothing is counted and the budget is returned). The run's
        row is incremented by a guarded ``UPDATE`` (atomic against the run's
        parallel tool calls); a tenant budget is held by locking its policy row
        for the count, so concurrent runs of the tenant reserve one at a time."""
        policies = self.policies
        if policies:
            self.row.refresh_from_db(fields=["grants"])
        grants = self.row.grants or {}
        run = policies.get(BudgetPolicy.Scope.RUN)
        run_limit = None if run is None else self._limit("run", "tool_calls", grants)
        tenant = policies.get(BudgetPolicy.Scope.TENANT)
        tenant_limit = (
            None if tenant is None else self._limit("tenant", "tool_calls", grants)
        )
        mine = RunUsage.objects.filter(pk=self.row.pk)
        with transaction.atomic():
            if tenant is not None and tenant_limit is not None:
                # one reservation of the tenant at a time (a row lock)
                BudgetPolicy.objects.select_for_update().filter(pk=tenant.pk).first()
            guarded = (
                mine if run_limit is None else mine.filter(tool_calls__lt=run_limit)
            )
            if not guarded.update(
                tool_calls=F("tool_calls") + 1, updated_at=timezone.now()
            ):
                used = mine.values_list("tool_calls", flat=True).get()
                return self._tool_calls_over("run", run_limit, used)
            if tenant is not None and tenant_limit is not None:
                spent = tenant_usage(tenant_id=self.job.tenant_id, graph=tenant.graph)
                if spent.tool_calls > tenant_limit:
                    transaction.set_rollback(True)  # the reservation is undone
                    return self._tool_calls_over(
                        "tenant", tenant_limit, spent.tool_calls - 1
                    )
        return None

    def _tool_calls_over(self, scope: str, limit: float | None, used: int) -> Exceeded:
        return Exceeded(
            scope=scope,
            budget="tool_calls",
            limit=float(limit or 0),
            used=used,
            on_exceed=self.policies[scope].on_exceed,
        )

    def _over(self, budgets: tuple[str, ...]) -> Exceeded | None:
        self.row.refresh_from_db()
        grants = self.row.grants or {}
        for scope, policy in self.policies.items():
            used = self._used(scope, policy)
            for budget in budgets:
                total = self._limit(scope, budget, grants)
                if total is not None and used.amount(budget) >= total:
                    return Exceeded(
                        scope=scope,
                        budget=budget,
                        limit=total,
                        used=used.amount(budget),
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

    def record_model(self, effect: Effect) -> None:
        usage = effect.usage
        cost = call_cost(name=effect.name, usage=usage, stated=effect.cost)
        inputs, outputs = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
        RunUsage.objects.filter(pk=self.row.pk).update(
            input_tokens=F("input_tokens") + inputs,
            output_tokens=F("output_tokens") + outputs,
            cost_usd=F("cost_usd") + cost,
            model_calls=F("model_calls") + 1,
            updated_at=timezone.now(),
        )
        tenant = {"tenant": self.job.tenant_id}
        if inputs or outputs:
            metrics.inc_now("tenant_tokens_total", inputs + outputs, **tenant)
        if cost:
            metrics.inc_now("tenant_cost_usd_total", float(cost), **tenant)
        if cost and not effect.cost:
            # priced here (ORIS_PRICES), not by the model: counted here too
            provider, _, model = effect.name.rpartition(":")
            labels = {"provider": provider, "model": model}
            metrics.inc_now("llm_cost_usd_total", float(cost), **labels)


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
