"""The Agent Server's store: namespaced JSON documents, shared across threads.

A namespace is stored as its labels joined by ``"."`` (labels may not contain a
dot), so every namespace under a prefix is found with one index range scan:
``namespace = 'a.b' OR namespace LIKE 'a.b.%'``. An item with a TTL carries its
``expires_at``; a django-q2 schedule deletes expired items in batches.
"""

from __future__ import annotations

from django.db import models


class StoreItem(models.Model):
    namespace = models.CharField(max_length=1024)
    key = models.CharField(max_length=1024)
    value = models.JSONField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # minutes; reads (with refresh_ttl) and writes push expires_at back by it
    ttl_minutes = models.FloatField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "key"], name="store_item_namespace_key"
            )
        ]
        indexes = [
            # LIKE 'prefix%' uses a btree on PostgreSQL only with pattern ops
            # (other backends ignore opclasses)
            models.Index(
                fields=["namespace"],
                name="store_item_namespace_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["expires_at"],
                name="store_item_expiry",
                condition=models.Q(expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.key}"

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.namespace.split("."))
