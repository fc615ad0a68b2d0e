"""API keys and the append-only audit log."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from django.db import models


def hash_secret(secret: str) -> str:
    """SHA-256 hex of the trimmed secret, the reference's storage format."""
    return hashlib.sha256(secret.strip().encode()).hexdigest()


class ApiKey(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"  # every route, key management
        OPERATOR = "operator"  # jobs, interrupts, dead letters, audit (read)
        WORKER = "worker"  # the /v1/workers data plane only

    class Status(models.TextChoices):
        ACTIVE = "active"  # accepted
        DISABLED = "disabled"  # revoked; never accepted again

    key_id = models.CharField(max_length=128, unique=True)
    secret_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=16, choices=Role, default=Role.OPERATOR)
    status = models.CharField(max_length=16, choices=Status, default=Status.ACTIVE)
    label = models.CharField(max_length=256, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "API key"
        indexes = [models.Index(fields=["status"], name="api_key_status")]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.role}, {self.status})"

    def matches(self, raw_secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(raw_secret))

    def is_usable(self, *, at: datetime) -> bool:
        expired = self.expires_at is not None and self.expires_at <= at
        return self.status == self.Status.ACTIVE and not expired


class AuditLog(models.Model):
    # A run continued on a changed graph (ORIS_GRAPH_DEFINITION_CHANGED=warn).
    DEFINITION_CHANGED = "job.definition_changed"
    # The reaper took an attempt back from a worker whose lease expired.
    LEASE_EXPIRED = "attempt.lease_expired"

    actor_type = models.CharField(
        max_length=16
    )  # bearer|api_key|user|anonymous|system|shell
    actor_id = models.CharField(max_length=256, blank=True, default="")
    actor_role = models.CharField(max_length=16, blank=True, default="")
    action = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=256, blank=True, default="")
    result = models.CharField(max_length=16, default="success")
    request_id = models.CharField(max_length=128, blank=True, default="")
    details = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["-created_at"], name="audit_created"),
            models.Index(fields=["request_id"], name="audit_request"),
            models.Index(fields=["action", "-created_at"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.resource_type}:{self.resource_id} ({self.result})"
