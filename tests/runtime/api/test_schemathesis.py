"""Property-based requests generated from our OpenAPI document (schemathesis):
whatever the input, no 5xx and every answer is an envelope."""

from __future__ import annotations

import json

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NotSet

from tests.factories import make_job

EXAMPLES = 25


def operations() -> list:
    raw = json.loads(
        json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str)
    )
    schema = schemathesis.openapi.from_dict(raw)
    return [result.ok() for result in schema.get_all_operations()]


def send(client, case) -> object:
    body = None if isinstance(case.body, NotSet) else case.body
    query = case.query if isinstance(case.query, dict) else {}
    method = getattr(client, case.method.lower())
    path = case.formatted_path
    if query:
        from urllib.parse import urlencode

        path = f"{path}?{urlencode(query, doseq=True)}"
    if case.method.upper() == "GET":
        return method(path)
    return method(path, body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "operation", operations(), ids=lambda op: f"{op.method} {op.path}"
)
def test_generated_requests_never_fail_the_server(alice_admin, operation) -> None:
    make_job("chain", thread_id="t")

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = send(alice_admin, case)
        assert response.status_code < 500, (case.formatted_path, response.content)
        body = response.json()
        if response.status_code < 300:
            assert set(body) == {"meta", "request_id", "data"}
        else:
            assert set(body) == {"request_id", "error"}
            assert set(body["error"]) == {"code", "message", "details"}

    check()
