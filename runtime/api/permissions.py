"""RBAC: each API class names its scope; each role holds a set of scopes."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from runtime.api.principal import ANONYMOUS, Principal

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"jobs", "interrupts", "dlq", "audit", "attempts", "workers"}),
    "operator": frozenset({"jobs", "interrupts", "dlq", "audit", "attempts"}),
    "worker": frozenset({"workers"}),
}


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
            if not settings.ORIS_API_AUTH_DISABLED:
                raise NotAuthenticated("missing or invalid credentials")
            # DRF types `user` as a Django user; ours is a Principal.
            principal = request.user = ANONYMOUS  # type: ignore[assignment]
        scope = getattr(view, "required_scope", None)
        if scope == "*":  # any role: the schema, unknown routes
            return True
        if scope is None or scope not in ROLE_SCOPES.get(principal.role, ()):
            raise Forbidden(principal, request)
        return True
