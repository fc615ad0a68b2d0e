"""The audit trail: every control action by a person or key writes one row."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from django.utils import timezone

from runtime.models import AuditLog


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who asked: a console user, an API credential, the system itself."""

    type: str  # user | api_key | bearer | anonymous | system | shell
    id: str | None = None
    role: str | None = None
    request_id: str = ""

    @classmethod
    def system(cls) -> Actor:
        return cls(type="system", id="oris", role=None)

    @classmethod
    def shell(cls) -> Actor:
        """Whoever runs the ``oris`` command: the operating-system user. A shell
        on the host reaches the database, so it acts as an admin."""
        return cls(type="shell", id=getpass.getuser(), role="admin")

    @classmethod
    def for_user(cls, user: Any, *, request_id: str = "") -> Actor:
        admin = user.is_superuser or user.groups.filter(name="oris-admin").exists()
        role = "admin" if admin else "operator"
        return cls(
            type="user", id=user.get_username(), role=role, request_id=request_id
        )

    def __str__(self) -> str:
        return f"{self.type}:{self.id}" if self.id else self.type


class AuditFields(TypedDict):
    """What one audit row says."""

    actor: Actor
    action: str
    resource_type: str
    resource_id: str | None
    details: NotRequired[dict[str, Any] | None]
    result: NotRequired[str]
    at: NotRequired[datetime | None]


def audit_record(**fields: Unpack[AuditFields]) -> AuditLog:
    """Appends one audit row; call it inside the mutating service's transaction."""
    entry = audit_entry(**fields)
    entry.save(force_insert=True)
    return entry


def audit_entry(**fields: Unpack[AuditFields]) -> AuditLog:
    """The row ``audit_record`` appends, unsaved: for a service that writes it
    within a statement of its own."""
    actor = fields["actor"]
    return AuditLog(
        actor_type=actor.type,
        actor_id=actor.id or "",
        actor_role=actor.role or "",
        action=fields["action"],
        resource_type=fields["resource_type"],
        resource_id=fields["resource_id"] or "",
        result=fields.get("result", "success"),
        request_id=actor.request_id,
        details=fields.get("details"),
        created_at=fields.get("at") or timezone.now(),
    )
