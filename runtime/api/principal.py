"""Who is calling /v1: a credential's actor and its role."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.services.audit import Actor


@dataclass(frozen=True, slots=True)
class Principal:
    actor_type: str  # bearer | api_key | user | anonymous
    actor_id: str | None
    role: str  # admin | operator | worker
    is_authenticated: bool = True  # DRF's IsAuthenticated-style checks read this

    def actor(self, request_id: str) -> Actor:
        return Actor(
            type=self.actor_type,
            id=self.actor_id,
            role=self.role if self.actor_type != "anonymous" else None,
            request_id=request_id,
        )


ANONYMOUS = Principal(actor_type="anonymous", actor_id=None, role="admin")
