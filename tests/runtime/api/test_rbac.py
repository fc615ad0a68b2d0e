"""The route table, role by role, derived from the URLconf: each API class declares
its scope, and nothing here repeats a route."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from runtime.api import urls as api_urls
from runtime.api.base import OrisApi
from runtime.api.permissions import ROLE_SCOPES, Role, Scope, role_allows
from runtime.api.principal import Principal
from tests.runtime.api.conftest import CONTRACT, assert_error
from tests.runtime.api.routes import ROUTES, Route, routes


def scope_violations(patterns: list) -> list[str]:
    """Routes whose API class does not declare a ``Scope``."""
    return [
        f"{r.method.upper()} {r.contract_path}: {r.view.__name__} has no scope"
        for r in routes(patterns)
        if not isinstance(r.scope, Scope)
    ]


CONTROL = [r for r in ROUTES if r.scope != Scope.ANY]
PERSONAS = {"alice_admin": "admin", "bob_operator": "operator"}
PERSONAS |= {"walter_worker": "worker"}


def test_every_v1_view_names_its_scope() -> None:
    resolver = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "v1"
    )
    views = [p.callback.cls for p in resolver.url_patterns if isinstance(p, URLPattern)]
    assert len(views) >= 27
    assert all(getattr(view, "required_scope", None) for view in views)
    assert scope_violations(api_urls.urlpatterns) == []


def test_the_walk_refuses_an_api_class_without_a_scope() -> None:
    class ForgottenApi(OrisApi):
        def get(self, request: Request) -> Response:
            return self.ok({})

    patterns = [*api_urls.urlpatterns, path("forgotten", ForgottenApi.as_view())]
    assert scope_violations(patterns) == [
        "GET /v1/forgotten: ForgottenApi has no scope"
    ]


def test_an_api_class_without_a_scope_allows_nobody() -> None:
    class ForgottenApi(OrisApi):
        def get(self, request: Request) -> Response:
            return self.ok({})

    request = APIRequestFactory().get("/v1/forgotten")
    force_authenticate(request, user=Principal("api_key", "alice", "admin"))
    response = ForgottenApi.as_view()(request)
    assert response.status_code == 403
    assert not role_allows("admin", None)


def test_the_urlconf_serves_the_contract_routes() -> None:
    contract = {
        (e["method"], re.sub(r":\w+", ":_", e["path"]))
        for e in CONTRACT["endpoints"]
        if e["path"].startswith("/v1/")
    }
    served = {(r.method.upper(), r.contract_path) for r in CONTROL}
    assert served == contract | ADDED


# Operations Oris adds to the reference's API (their classes say so).
ADDED = {
    ("GET", "/v1/graphs"),
    ("GET", "/v1/graphs/:_"),
    ("GET", "/v1/jobs/:_/storage"),
    ("GET", "/v1/jobs/:_/usage"),
    # the effect ledger (docs/effects.md)
    ("GET", "/v1/jobs/:_/effects"),
    ("POST", "/v1/jobs/:_/recorded-replay"),
    ("POST", "/v1/jobs/:_/forks"),
    ("GET", "/v1/jobs/:_/compare/:_"),
}


def test_the_added_operations_are_declared_as_such() -> None:
    declared = {(r.method.upper(), r.contract_path) for r in ROUTES}
    assert {
        (r.method.upper(), r.contract_path)
        for r in ROUTES
        if not getattr(r.view, "in_contract", True)  # the schema views are not ours
    } == ADDED
    assert declared >= ADDED


def test_a_routes_scope_is_its_first_path_segment() -> None:
    assert {r.path.split("/")[2] for r in CONTROL} == {
        s.value for s in ROLE_SCOPES[Role.ADMIN]
    }
    assert all(r.scope == r.path.split("/")[2] for r in CONTROL)


def test_the_table_matches_the_reference() -> None:
    assert ROLE_SCOPES["operator"] == ROLE_SCOPES["admin"] - {"workers"}
    assert ROLE_SCOPES["worker"] == {"workers"}
    assert set(ROLE_SCOPES) == set(Role)
    assert all(isinstance(s, Scope) for scopes in ROLE_SCOPES.values() for s in scopes)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_route_by_role(request, persona: str, route: Route) -> None:
    client = request.getfixturevalue(persona)
    role = PERSONAS[persona]
    response = getattr(client, route.method)(route.path, {}, format="json")
    if role_allows(role, route.scope):
        assert response.status_code != 403, response.content
        assert response.status_code != 401
    else:
        error = assert_error(response, 403, "forbidden")
        assert error["message"] == "role is not allowed to access this endpoint"
        assert error["details"] == {
            "role": role,
            "method": route.method.upper(),
            "path": route.path,
        }


@pytest.mark.django_db
@pytest.mark.parametrize("route", CONTROL, ids=lambda r: f"{r.method} {r.path}")
def test_route_without_credentials(stranger, route: Route) -> None:
    assert_error(
        getattr(stranger, route.method)(route.path, {}, format="json"),
        401,
        "unauthorized",
    )
