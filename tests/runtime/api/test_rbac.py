"""The reference's route table, route by route, role by role."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from runtime.api.permissions import ROLE_SCOPES
from tests.runtime.api.conftest import assert_error

ROUTES = [
    ("get", "/v1/jobs", "jobs"),
    ("post", "/v1/jobs", "jobs"),
    ("post", "/v1/jobs/run", "jobs"),
    ("get", "/v1/jobs/t", "jobs"),
    ("get", "/v1/jobs/t/detail", "jobs"),
    ("get", "/v1/jobs/t/history", "jobs"),
    ("get", "/v1/jobs/t/timeline", "jobs"),
    ("get", "/v1/jobs/t/timeline/export", "jobs"),
    ("get", "/v1/jobs/t/checkpoints/c", "jobs"),
    ("post", "/v1/jobs/t/resume", "jobs"),
    ("post", "/v1/jobs/t/replay", "jobs"),
    ("post", "/v1/jobs/t/cancel", "jobs"),
    ("get", "/v1/interrupts", "interrupts"),
    ("get", "/v1/interrupts/i", "interrupts"),
    ("post", "/v1/interrupts/i/resume", "interrupts"),
    ("post", "/v1/interrupts/i/reject", "interrupts"),
    ("post", "/v1/workers/poll", "workers"),
    ("post", "/v1/workers/w/heartbeat", "workers"),
    ("post", "/v1/workers/w/extend-lease", "workers"),
    ("post", "/v1/workers/w/report-step", "workers"),
    ("post", "/v1/workers/w/ack", "workers"),
    ("get", "/v1/dlq", "dlq"),
    ("get", "/v1/dlq/a", "dlq"),
    ("post", "/v1/dlq/a/replay", "dlq"),
    ("get", "/v1/audit/logs", "audit"),
    ("get", "/v1/attempts/a/retries", "attempts"),
]


def v1_views() -> list[type]:
    resolver = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "v1"
    )
    return [p.callback.cls for p in resolver.url_patterns if isinstance(p, URLPattern)]


def test_every_v1_view_names_its_scope() -> None:
    views = v1_views()
    assert len(views) >= 27
    assert all(getattr(view, "required_scope", None) for view in views)


def test_the_table_matches_the_reference() -> None:
    assert ROLE_SCOPES["operator"] == ROLE_SCOPES["admin"] - {"workers"}
    assert ROLE_SCOPES["worker"] == {"workers"}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize("persona", ["alice_admin", "bob_operator", "walter_worker"])
def test_route_by_role(
    request, persona: str, method: str, path: str, scope: str
) -> None:
    client = request.getfixturevalue(persona)
    role = {"alice_admin": "admin", "bob_operator": "operator"}.get(persona, "worker")
    response = getattr(client, method)(path, {}, format="json")
    if scope in ROLE_SCOPES[role]:
        assert response.status_code != 403, response.content
        assert response.status_code != 401
    else:
        error = assert_error(response, 403, "forbidden")
        assert error["message"] == "role is not allowed to access this endpoint"
        assert error["details"] == {
            "role": role,
            "method": method.upper(),
            "path": path,
        }


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_route_without_credentials(
    stranger, method: str, path: str, scope: str
) -> None:
    assert_error(
        getattr(stranger, method)(path, {}, format="json"), 401, "unauthorized"
    )
