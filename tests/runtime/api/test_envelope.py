from __future__ import annotations

import pytest

from runtime.models import AuditLog, Job
from tests.runtime.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_malformed_json_gets_the_envelope(alice_admin) -> None:
    response = alice_admin.post("/v1/jobs/run", "{bad", content_type="application/json")
    assert_error(response, 400, "invalid_argument")
    assert not Job.objects.exists()


def test_wrong_types_name_the_field(alice_admin) -> None:
    response = alice_admin.post(
        "/v1/jobs/run", {"thread_id": "t", "priority": "high"}, format="json"
    )
    error = assert_error(response, 400, "invalid_argument")
    assert "priority" in error["details"]["fields"]
    assert error["message"].startswith("priority:")


def test_a_non_object_body_is_refused(alice_admin) -> None:
    response = alice_admin.post("/v1/jobs/run", [1, 2], format="json")
    assert_error(response, 400, "invalid_argument")


def test_unknown_fields_are_ignored_as_in_the_reference(alice_admin) -> None:
    response = alice_admin.post(
        "/v1/jobs/run", {"thread_id": "t", "input": "x", "colour": "red"}, format="json"
    )
    assert response.status_code == 200


def test_unknown_routes_are_404_in_the_envelope(alice_admin) -> None:
    assert_error(alice_admin.get("/v1/nothing/here"), 404, "not_found")


def test_wrong_method_is_405_in_the_envelope(alice_admin) -> None:
    assert_error(alice_admin.delete("/v1/jobs"), 405, "invalid_argument")


def test_a_wrong_content_type_is_415(alice_admin) -> None:
    response = alice_admin.post(
        "/v1/jobs/run", "thread_id=t", content_type="text/plain"
    )
    assert_error(response, 415, "invalid_argument")


def test_a_body_over_the_limit_is_413(alice_admin, settings) -> None:
    settings.ORIS_API_MAX_BODY_BYTES = 100
    response = alice_admin.post(
        "/v1/jobs/run", {"thread_id": "t", "input": "x" * 200}, format="json"
    )
    assert_error(response, 413, "invalid_argument")
    assert AuditLog.objects.get(action="job.run").result == "error"


def test_a_valid_request_id_is_kept_everywhere(alice_admin) -> None:
    response = alice_admin.post(
        "/v1/jobs/run",
        {"thread_id": "t", "input": "x"},
        format="json",
        HTTP_X_REQUEST_ID="req-42.a:b",
    )
    assert response.json()["request_id"] == "req-42.a:b"
    assert response["X-Request-Id"] == "req-42.a:b"
    assert AuditLog.objects.get(action="job.run").request_id == "req-42.a:b"


def test_an_invalid_request_id_is_replaced_once(alice_admin) -> None:
    response = alice_admin.get("/v1/jobs", HTTP_X_REQUEST_ID="has spaces")
    rid = response.json()["request_id"]
    assert rid != "has spaces"
    assert response["X-Request-Id"] == rid


def test_refused_control_actions_are_audited(bob_operator) -> None:
    response = bob_operator.post("/v1/jobs/t-missing/cancel", {}, format="json")
    assert_error(response, 404, "not_found")
    row = AuditLog.objects.get(action="job.cancel")
    assert (row.result, row.resource_id, row.actor_id, row.actor_role) == (
        "error",
        "t-missing",
        "bob",
        "operator",
    )
    assert row.details["status_code"] == 404
    assert row.request_id == response.json()["request_id"]


def test_the_openapi_schema_validates_without_warnings() -> None:
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_the_openapi_document_and_docs_are_served(alice_admin, client) -> None:
    assert (
        alice_admin.get("/v1/openapi.json", HTTP_ACCEPT="application/json").status_code
        == 200
    )
    assert client.get("/docs").status_code == 200


def test_the_openapi_document_is_json_and_names_each_credential(client) -> None:
    """Found by schemathesis: the document was YAML, and its security said a
    request needs a bearer token, a key and a key id all at once."""
    response = client.get("/v1/openapi.json")
    assert response["Content-Type"] == "application/json"
    paths = response.json()["paths"]
    operation = paths["/v1/jobs"]["get"]
    assert operation["security"] == [
        {"bearerAuth": []},
        {"apiKey": []},
        {"apiKeyId": [], "apiKey": []},
        {"staffSession": []},
    ]
    # Each operation has its own description, never its base class's docstring.
    history = paths["/v1/jobs/{thread_id}/history"]["get"]["description"]
    assert history != paths["/v1/jobs/{thread_id}"]["get"]["description"]
