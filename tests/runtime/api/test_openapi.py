"""The OpenAPI document as a reader meets it: JSON at /v1/openapi.json, YAML at
/v1/openapi.yaml, and every operation summarised, described, tagged and with its
error responses explained."""

from __future__ import annotations

import json

import pytest
import yaml

from runtime.api.schema import ERRORS

TAGS = {"jobs", "interrupts", "workers", "dead letters", "audit", "graphs"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def operations(document: dict) -> list[tuple[str, dict]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    ]


def test_every_operation_has_a_summary_a_description_and_one_known_tag(
    document: dict,
) -> None:
    found = operations(document)
    assert len(found) == 34
    for label, op in found:
        assert op.get("summary", "").strip(), label
        assert len(op.get("description", "").strip()) > 20, label
        assert len(op["tags"]) == 1, label
        assert op["tags"][0] in TAGS, label
    assert {t["name"] for t in document["tags"]} == TAGS
    assert {op["tags"][0] for _, op in found} == TAGS


def test_descriptions_are_not_shared_between_operations(document: dict) -> None:
    descriptions = [op["description"] for _, op in operations(document)]
    # Only the two run endpoints (the same operation under two paths) share one.
    repeated = {d for d in descriptions if descriptions.count(d) > 1}
    assert len(repeated) <= 1
    assert all("Starts a run" in d for d in repeated)


def test_every_error_response_is_the_envelope_with_its_meaning(document: dict) -> None:
    for label, op in operations(document):
        errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
        assert {400, 401, 403, 429} <= set(errors), label
        for status, response in errors.items():
            assert response["description"] == ERRORS[status], label
            schema = response["content"]["application/json"]["schema"]
            assert schema["required"] == ["request_id", "error"], label
        if label.startswith("POST"):
            assert 409 in errors, label
        else:
            assert 409 not in errors, label


def test_the_run_answers_document_what_a_wait_adds(document: dict) -> None:
    for path in ("/v1/jobs/run", "/v1/jobs", "/v1/jobs/{thread_id}/resume"):
        ok = document["paths"][path]["post"]["responses"]["200"]
        data = ok["content"]["application/json"]["schema"]["properties"]["data"]
        assert {"result", "error", "pending_interrupts", "interrupts"} <= set(
            data["properties"]
        ), path


def test_the_same_document_is_served_as_yaml(client, document: dict) -> None:
    response = client.get("/v1/openapi.yaml")
    assert response.status_code == 200
    assert "yaml" in response["Content-Type"]
    assert yaml.safe_load(response.content) == document
