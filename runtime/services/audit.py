"""The audit trail: every control action by a person or key writes one row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from runtime.models import AuditLog


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who asked: a console user, an API credential, the system itself."""

    type: str  # user | api_key | bearer | anonymous | system
    id: str | None = None
    role: str | None = None
    request_id: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(type="system", id="oris", role=None)

    @classmethod
    def for_user(cls, user: Any, *, request_id: str = "") -> Actor:
        admin = user.is_superuser or user.groups.filter(name="oris-admin").exists()
        role = "admin" if admin else "operator"
        return cls(
            type="user", id=user.get_username(), role=role, request_id=request_id
        )

    def __str__(self) -> str:
        return f"{self.type}:{self.id}" if self.id else self.type


def audit_record(
    *,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    details: dict[str, Any] | None = None,
    result: str = "success",
    at: datetime | None = None,
) -> AuditLog:
    """Appends one audit row; call it inside the mutating service's transaction."""
    entry = audit_entry(
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details,
        result=result,
        at=at,
    )
    entry.save(force_insert=True)
    return entry


def audit_entry(
    *,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str | None,
    details: dict[str, Any] | None = None,
    result: str = "success",
    at: datetime | None = None,
) -> AuditLog:
    """The row ``audit_record`` appends, unsaved: for a service that writes it
    within a statement of its own."""
    return AuditLog(
        actor_type=actor.type,
        actor_id=actor.id or "",
        actor_role=actor.role or "",
        action=action,
        resource_type=resource_type,
        resource_id=resource_id or "",
        result=result,
        request_id=actor.request_id,
        details=details,
        created_at=at or timezone.now(),
    )
