"""Retention policies: how much of a finished thread the runtime keeps, and for
how long."""

from __future__ import annotations

from django.db import models


class RetentionPolicy(models.Model):
    """What finished threads of a graph and/or tenant keep.

    A blank ``graph`` or ``tenant_id`` matches every graph or tenant; the most
    specific policy wins (graph and tenant, then graph, then tenant, then the
    catch-all row, then ``ORIS_RETENTION_*`` settings). ``None`` in a field means
    "no limit" for that policy.
    """

    graph = models.CharField(max_length=128, blank=True, default="")
    tenant_id = models.CharField(max_length=128, blank=True, default="")
    keep_last = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="checkpoints kept per namespace of a finished thread (head included)",
    )
    ttl_seconds = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="seconds after it finished that a thread and its records are deleted",
    )
    compact = models.BooleanField(
        default=False,
        help_text="rewrite the head's delta chains as one full copy (a snapshot)",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"
        constraints = [
            models.UniqueConstraint(
                fields=["graph", "tenant_id"], name="retention_policy_scope"
            )
        ]

    def __str__(self) -> str:
        return f"retention {self.graph or '*'} / {self.tenant_id or '*'}"
