"""Schemathesis against the real WSGI app, from the document it serves at
/v1/openapi.json: every /v1 operation, valid and invalid data (the ``all`` mode:
positive and negative), the examples, coverage and fuzzing phases, and every
check schemathesis has (server errors, status codes, content types, response
schemas and headers, negative data rejected, positive data accepted, auth
enforced, unsupported methods...). Derandomized, so a run is reproducible."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from oris_site.wsgi import application
from tests.factories import make_job

TOKEN = "schemathesis-admin-token"
FUZZ_EXAMPLES = 30  # per operation, on top of the coverage phase's cases

# Where a schema-valid request may still be a 400: rules across fields or
# against the server's state that an OpenAPI document cannot state (a run's
# input is checked against its graph's own input schema, the graph must be
# registered; a retry policy's cap must not be below its backoff; an audit
# window's start must not be after its end). Every other operation answers
# schema-valid data with a 2xx, 404 or 409 only.
SEMANTIC_400 = [
    "POST /v1/jobs",
    "POST /v1/jobs/run",
    "POST /v1/workers/{worker_id}/ack",
    "GET /v1/audit/logs",
]
ACCEPTED = ["2xx", "401", "403", "404", "409", "429"]

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": FUZZ_EXAMPLES,
            "deterministic": True,
            # NUL is refused in every string (tests/runtime/api/test_bad_input.py);
            # the document cannot say so for free-form JSON such as ``input``.
            "allow-x00": False,
        },
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
        },
        "operations": [
            {
                "include-name": SEMANTIC_400,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [*ACCEPTED, "400"]
                    }
                },
            }
        ],
        "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
    }
)
SCHEMA = schemathesis.openapi.from_wsgi("/v1/openapi.json", application, config=CONFIG)
CASES: Counter[str] = Counter()


@pytest.fixture
def served(db: None, settings) -> Iterator[None]:
    """The app as a server runs it, inside this test's transaction: Django's own
    test client also keeps the request signals from closing the connection."""
    settings.ORIS_API_AUTH_BEARER_TOKEN = TOKEN
    settings.ORIS_API_RATE_LIMIT = "off"
    make_job("chain", thread_id="t")
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_every_operation_is_in_the_document() -> None:
    from tests.runtime.api.routes import ROUTES

    documents = {"openapi.json", "openapi.yaml"}
    served = {(r.method.upper(), r.route) for r in ROUTES if r.route not in documents}
    labels = {op.ok().label for op in SCHEMA.get_all_operations()}
    assert len(labels) == len(served) == 34


@SCHEMA.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_meet_every_check(served: None, case) -> None:
    CASES[case.meta.generation.mode.value] += 1
    case.call_and_validate()


def test_both_modes_ran() -> None:
    """Runs after the generated tests (same module, file order): both kinds of
    data reached the app. With -p no:randomly or the default ordering."""
    if not CASES:
        pytest.skip("the generated tests did not run in this session")
    assert CASES["positive"] > 0, CASES
    assert CASES["negative"] > 0, CASES
