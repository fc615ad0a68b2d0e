"""RBAC: each API class names its scope; each role holds a typed set of scopes."""

from __future__ import annotations

from enum import StrEnum

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from runtime.api.auth import supported_auth
from runtime.api.principal import ANONYMOUS, Principal
from runtime.models import ApiKey


class Scope(StrEnum):
    """What an API class needs; ``ANY`` is any authenticated role."""

    JOBS = "jobs"
    INTERRUPTS = "interrupts"
    DLQ = "dlq"
    AUDIT = "audit"
    ATTEMPTS = "attempts"
    WORKERS = "workers"
    GRAPHS = "graphs"
    ANY = "*"  # unknown routes (authenticated, whatever the role) and the schema


Role = ApiKey.Role

_CONTROL = frozenset(
    {Scope.JOBS, Scope.INTERRUPTS, Scope.DLQ, Scope.AUDIT, Scope.ATTEMPTS, Scope.GRAPHS}
)

# The reference's route table: operators steer runs, workers only take work
# (graphs, an addition, are read by the roles that start runs).
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: _CONTROL | {Scope.WORKERS},
    Role.OPERATOR: _CONTROL,
    Role.WORKER: frozenset({Scope.WORKERS}),
}


def role_allows(role: str, scope: Scope | None) -> bool:
    """Whether ``role`` may call an API class that requires ``scope``."""
    if scope is None:  # an API class without a scope allows nobody
        return False
    if scope == Scope.ANY:
        return True
    # A Role is its value: the table is read with the name as given.
    return scope in ROLE_SCOPES.get(role, frozenset())  # type: ignore[call-overload]


class Forbidden(PermissionDenied):
    def __init__(self, principal: Principal, request: Request) -> None:
        super().__init__("role is not allowed to access this endpoint")
        self.details = {
            "role": principal.role,
            "method": request.method,
            "path": request.path,
        }


class HasScope(BasePermission):
    """Allows the request when the principal's role holds ``view.required_scope``.

    Every /v1 view must set ``required_scope``; without one nothing is allowed.
    """

    def has_permission(self, request: Request, view: object) -> bool:
        principal: object = request.user
        if not isinstance(principal, Principal):
            # Fail closed: disabling auth never opens /v1 beside real credentials.
            if not settings.ORIS_API_AUTH_DISABLED or supported_auth():
                raise NotAuthenticated("missing or invalid credentials")
            # DRF types `user` as a Django user; ours is a Principal.
            principal = request.user = ANONYMOUS  # type: ignore[assignment]
        if not role_allows(principal.role, getattr(view, "required_scope", None)):
            raise Forbidden(principal, request)
        return True
