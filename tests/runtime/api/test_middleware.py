"""The middleware audits refused control actions from the facts each API class
declares (``audit_action``, ``audit_resource``, ``audit_resource_kwarg``)."""

from __future__ import annotations

import pytest

from runtime.api.jobs import JobCancelApi, JobCollectionApi
from runtime.models import AuditLog
from tests.runtime.api.conftest import assert_error
from tests.runtime.api.routes import AUDITED, Route

pytestmark = pytest.mark.django_db


def test_the_audited_routes_are_the_reference_control_actions() -> None:
    assert sorted(r.view.audit_action for r in AUDITED) == [
        "dlq.replay",
        "interrupt.reject",
        "interrupt.resume",
        "job.cancel",
        "job.fork",  # additions: forks and recorded replays (docs/effects.md)
        "job.replay",
        "job.replay_recorded",
        "job.resume",
        "job.run",
        "job.run",
    ]


@pytest.mark.parametrize("route", AUDITED, ids=lambda r: r.path)
def test_a_refused_control_action_is_audited_with_its_resource(
    stranger, route: Route
) -> None:
    response = stranger.post(route.path, {}, format="json")
    assert_error(response, 401, "unauthorized")
    row = AuditLog.objects.get(result="error")
    kwarg = route.view.audit_resource_kwarg
    assert (row.action, row.resource_type, row.result, row.actor_type) == (
        route.view.audit_action,
        route.view.audit_resource,
        "error",
        "anonymous",
    )
    assert row.resource_id == (route.path.rsplit("/", 2)[1] if kwarg else "")
    assert row.details == {
        "method": "POST",
        "path": route.path,
        "status_code": 401,
        "error": "unauthorized",
    }


def test_reads_and_unknown_routes_are_not_audited(stranger, bob_operator) -> None:
    assert stranger.get("/v1/jobs").status_code == 401
    assert bob_operator.post("/v1/no/such/route", {}, format="json").status_code == 404
    assert bob_operator.post("/v1/jobs/t/detail", {}, format="json").status_code == 405
    assert not AuditLog.objects.filter(result="error").exists()


def test_a_body_refused_before_routing_is_audited_with_route_and_actor(
    bob_operator, settings
) -> None:
    settings.ORIS_API_MAX_BODY_BYTES = 10
    response = bob_operator.post(
        "/v1/jobs/t-big/cancel", {"reason": "x" * 50}, format="json"
    )
    assert_error(response, 413, "invalid_argument")
    row = AuditLog.objects.get(result="error")
    assert (row.action, row.resource_id, row.actor_type, row.actor_id) == (
        "job.cancel",
        "t-big",
        "api_key",
        "bob",
    )


def test_audit_facts_are_inherited_and_declared_per_class() -> None:
    assert JobCollectionApi.audit_action == "job.run"
    assert JobCollectionApi.audit_resource_kwarg is None
    assert JobCancelApi.audit_resource_kwarg == "thread_id"


@pytest.mark.postgres
def test_an_audit_write_that_fails_never_fails_the_refusal(caplog) -> None:
    # A resource type longer than its column: PostgreSQL refuses the insert.
    from django.http import JsonResponse
    from django.test import RequestFactory
    from django.urls import ResolverMatch

    from runtime.api.middleware import audit_refusals

    class OverlongApi(JobCancelApi):
        audit_resource = "r" * 100

    request = RequestFactory().post("/v1/jobs/t/cancel")
    request.resolver_match = ResolverMatch(
        OverlongApi.as_view(), (), {"thread_id": "t"}
    )
    audit_refusals(request, JsonResponse({}, status=404))
    assert not AuditLog.objects.exists()
    assert "could not audit the refused job.cancel" in caplog.text


def test_a_refusal_with_a_wrong_credential_is_audited_as_anonymous(
    alice_admin, settings
) -> None:
    from rest_framework.test import APIClient

    settings.ORIS_API_MAX_BODY_BYTES = 10
    client = APIClient()
    client.credentials(HTTP_X_API_KEY_ID="alice", HTTP_X_API_KEY="wrong")
    response = client.post("/v1/jobs/t/cancel", {"reason": "x" * 50}, format="json")
    assert_error(response, 413, "invalid_argument")
    row = AuditLog.objects.get(result="error")
    assert (row.actor_type, row.actor_id) == ("anonymous", "")


def test_a_csrf_refusal_on_v1_is_audited_with_the_staff_user() -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    staff = User.objects.create_user("sam", is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post("/v1/jobs/t/cancel", {}, content_type="application/json")
    assert_error(response, 403, "forbidden")
    row = AuditLog.objects.get(result="error")
    assert (row.action, row.actor_type, row.actor_id) == ("job.cancel", "user", "sam")
