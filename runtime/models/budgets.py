"""Budgets (limits on what runs may spend) and the usage runs record."""

from __future__ import annotations

from django.db import models

from runtime.models.jobs import Job


class BudgetPolicy(models.Model):
    """Limits on tokens, cost, tool calls and wall time, checked before each
    model and tool call of a durable run.

    ``scope`` says whose usage counts: each run's own (``run``) or the sum of a
    tenant's runs (``tenant``). A blank ``graph`` or ``tenant_id`` matches every
    graph or tenant; per scope the most specific policy applies (graph and
    tenant, then graph, then tenant, then the catch-all row). ``None`` in a
    limit: no limit.
    """

    class Scope(models.TextChoices):
        RUN = "run"  # each run's own usage
        TENANT = "tenant"  # the sum over the tenant's runs (of the graph, if set)

    class OnExceed(models.TextChoices):
        PAUSE = "pause"  # interrupt the run: an operator approves more, or rejects
        FAIL = "fail"  # fail the run

    graph = models.CharField(max_length=128, blank=True, default="")
    tenant_id = models.CharField(max_length=128, blank=True, default="")
    scope = models.CharField(max_length=8, choices=Scope, default=Scope.RUN)
    max_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    max_cost_usd = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True
    )
    max_tool_calls = models.PositiveIntegerField(null=True, blank=True)
    max_wall_seconds = models.PositiveIntegerField(null=True, blank=True)
    on_exceed = models.CharField(max_length=8, choices=OnExceed, default=OnExceed.PAUSE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "budget policies"
        constraints = [
            models.UniqueConstraint(
                fields=["graph", "tenant_id", "scope"], name="budget_policy_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} budget {self.graph or '*'} / {self.tenant_id or '*'}"


class RunUsage(models.Model):
    """What one run (a job, all its attempts) spent, and the extra budget
    operators approved for it (``grants``: one entry per approved pause)."""

    job = models.OneToOneField(
        Job, on_delete=models.CASCADE, primary_key=True, related_name="usage"
    )
    tenant_id = models.CharField(max_length=128, blank=True, default="")
    graph = models.CharField(max_length=128)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    model_calls = models.PositiveIntegerField(default=0)
    tool_calls = models.PositiveIntegerField(default=0)
    grants = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant_id", "graph"], name="usage_tenant")]

    def __str__(self) -> str:
        return f"usage of job {self.job_id}"

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens
