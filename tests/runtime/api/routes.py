"""The /v1 routes as the URLconf declares them, for tests that go route by route."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern

from runtime.api import urls as api_urls
from runtime.api.permissions import Scope

METHODS = ("get", "post", "put", "patch", "delete")
PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    method: str
    route: str  # as declared: jobs/<str:thread_id>
    view: type

    @property
    def path(self) -> str:
        """A concrete path: every parameter filled in with its first letter."""
        return "/v1/" + PARAM.sub(lambda m: m.group(1)[0], self.route)

    @property
    def contract_path(self) -> str:
        """The path as the contract writes it, parameters as ``:_``."""
        return "/v1/" + PARAM.sub(":_", self.route)

    @property
    def scope(self) -> Scope | None:
        return getattr(self.view, "required_scope", None)


def routes(patterns: list) -> list[Route]:
    """Every (method, route) the URLconf serves; the catch-all regex is not one."""
    found = []
    for pattern in patterns:
        if not isinstance(pattern, URLPattern) or pattern.name == "not-found":
            continue
        view = pattern.callback.view_class
        found += [
            Route(method, str(pattern.pattern), view)
            for method in METHODS
            if method in view.http_method_names and hasattr(view, method)
        ]
    return found


ROUTES = routes(api_urls.urlpatterns)
AUDITED = [r for r in ROUTES if r.method == "post" and r.view.audit_action]
