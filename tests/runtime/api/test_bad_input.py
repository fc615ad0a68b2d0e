"""Every bad input is a 4xx in the envelope and writes nothing, on both databases."""

from __future__ import annotations

import bz2

import pytest
from django.apps import apps

from runtime.api.parsers import MAX_JSON_DEPTH
from runtime.models import ApiKey, AuditLog
from tests.factories import make_job
from tests.runtime.api.conftest import assert_error
from tests.runtime.api.routes import ROUTES, Route

pytestmark = pytest.mark.django_db

POSTS = [r for r in ROUTES if r.method == "post"]
# Rows a request may write although it is refused: its audit, the key's last use.
BOOKKEEPING = {AuditLog, ApiKey}


def rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in apps.get_app_config("runtime").get_models()
        if model not in BOOKKEEPING
    }


def nested(depth: int) -> str:
    """A body ``depth`` levels deep: lists inside the default graph's messages."""
    lists = depth - 2
    return '{"input": {"messages": ' + "[" * lists + "]" * lists + "}}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
@pytest.mark.parametrize("route", POSTS, ids=lambda r: r.path)
def test_deep_json_is_refused_on_every_post_route(
    alice_admin, route: Route, depth: int
) -> None:
    before = rows()
    response = alice_admin.post(
        route.path, nested(depth), content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content
    assert_error(response, response.status_code, response.json()["error"]["code"])
    if route.view.__name__ != "DeadLetterReplayApi":  # takes no body, reads none
        assert response.status_code == 400
    assert rows() == before


def test_json_at_the_depth_limit_is_accepted(alice_admin) -> None:
    body = nested(MAX_JSON_DEPTH)
    assert (
        alice_admin.post(
            "/v1/jobs/run", body, content_type="application/json"
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "body",
    [
        {"thread_id": "t", "input": {"text": "a\u0000b"}},
        {"thread_id": "t", "input": {"k\u0000": 1}},
        {"thread_id": "t\u0000"},
        {"thread_id": "t" * 257},
        {"thread_id": "t", "idempotency_key": "k" * 257},
        {"thread_id": "t", "graph": "g" * 129},
        {"thread_id": "t", "queue": "q" * 65},
        {"thread_id": "t", "priority": 10**30},
        {
            "thread_id": "t",
            "timeout_policy": {"timeout_ms": 10**30, "on_timeout_status": "failed"},
        },
        {"thread_id": "t", "retry_policy": {"strategy": "fixed", "backoff_ms": 10**30}},
        {
            "thread_id": "t",
            "retry_policy": {
                "strategy": "fixed",
                "backoff_ms": 1,
                "max_retries": 10**30,
            },
        },
    ],
)
def test_a_bad_run_request_is_400_and_writes_nothing(alice_admin, body) -> None:
    before = rows()
    assert_error(
        alice_admin.post("/v1/jobs/run", body, format="json"), 400, "invalid_argument"
    )
    assert rows() == before


def test_a_body_is_decoded_by_its_charset_and_only_a_text_one(alice_admin) -> None:
    body = '{"thread_id": "t-\u00e9", "input": "x"}'.encode("latin-1")
    response = alice_admin.post(
        "/v1/jobs/run", body, content_type="application/json; charset=latin-1"
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["thread_id"] == "t-\u00e9"
    compressed = bz2.compress(b'{"input": "' + b"x" * 10_000 + b'"}')
    response = alice_admin.post(
        "/v1/jobs/run", compressed, content_type="application/json; charset=bz2_codec"
    )
    assert response.status_code == 400, response.content
    assert rows()["Job"] == 1


def test_a_number_beyond_a_float_is_refused(alice_admin) -> None:
    response = alice_admin.post(
        "/v1/jobs/run", '{"input": {"x": 1e400}}', content_type="application/json"
    )
    assert assert_error(response, 400, "invalid_argument")["message"] == (
        "JSON body numbers must be finite"
    )
    assert rows()["Job"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "/v1/jobs?offset=10000000000000000000000",
        "/v1/jobs?limit=1000000000000000000000000000000",
        "/v1/jobs?status=%00",
        "/v1/interrupts?limit=1000000000000000000000000000000",
        "/v1/interrupts?run_id=a%00b",
        "/v1/dlq?limit=1000000000000000000000000000000",
        "/v1/audit/logs?from_ms=100000000000000000000",
        "/v1/audit/logs?to_ms=-100000000000000000000",
        "/v1/audit/logs?limit=1000000000000000000000000000000",
        "/v1/audit/logs?request_id=a%00",
    ],
)
def test_out_of_range_queries_are_400(alice_admin, query: str) -> None:
    assert_error(alice_admin.get(query), 400, "invalid_argument")


def test_the_date_window_still_takes_its_whole_range(alice_admin) -> None:
    from runtime.api.fields import MillisecondsField

    low, high = MillisecondsField.LOW, MillisecondsField.HIGH
    response = alice_admin.get(f"/v1/audit/logs?from_ms={low}&to_ms={high}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/workers/poll", {"worker_id": "w", "limit": 10**30}),
        ("/v1/workers/poll", {"worker_id": "w", "max_active_leases": 10**30}),
        ("/v1/workers/poll", {"worker_id": "w" * 129}),
        ("/v1/workers/w/heartbeat", {"lease_id": "l", "lease_ttl_seconds": 10**30}),
        ("/v1/workers/w/heartbeat", {"lease_id": "l" * 65}),
        (
            "/v1/workers/w/report-step",
            {
                "attempt_id": "a",
                "action_id": "x" * 257,
                "status": "s",
                "dedupe_token": "d",
            },
        ),
        ("/v1/workers/w/ack", {"attempt_id": "a" * 65, "terminal_status": "failed"}),
    ],
)
def test_bad_worker_requests_are_400(alice_admin, path: str, body: dict) -> None:
    make_job()
    before = rows()
    assert_error(alice_admin.post(path, body, format="json"), 400, "invalid_argument")
    assert rows() == before


@pytest.mark.parametrize("bad_id", ["x" * 300, "a\x00b"], ids=["long", "nul"])
@pytest.mark.parametrize("route", POSTS, ids=lambda r: r.path)
def test_bad_path_ids_are_400_for_callers(
    alice_admin, route: Route, bad_id: str
) -> None:
    if "<" not in route.route:
        pytest.skip("no path id")
    path = route.path.replace("/t/", f"/{bad_id}/").replace("/i/", f"/{bad_id}/")
    path = path.replace("/a/", f"/{bad_id}/").replace("/w/", f"/{bad_id}/")
    before = rows()
    assert_error(alice_admin.post(path, {}, format="json"), 400, "invalid_argument")
    assert rows() == before


@pytest.mark.parametrize("bad_id", ["x" * 300, "a\x00b"], ids=["long", "nul"])
def test_a_probe_with_a_bad_path_id_is_401_and_audited(stranger, bad_id) -> None:
    response = stranger.post(f"/v1/jobs/{bad_id}/cancel", {}, format="json")
    assert_error(response, 401, "unauthorized")
    row = AuditLog.objects.get(result="error")
    assert row.action == "job.cancel"
    assert len(row.resource_id) <= 256
    assert "\x00" not in row.resource_id
    assert "\x00" not in row.details["path"]


def test_a_bad_api_key_id_is_401(alice_admin) -> None:
    from rest_framework.test import APIClient

    for key_id in ("a\x00", "k" * 200):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY_ID=key_id, HTTP_X_API_KEY="secret")
        assert_error(client.get("/v1/jobs"), 401, "unauthorized")


def test_a_chunked_body_is_refused_not_dropped(alice_admin) -> None:
    response = alice_admin.post(
        "/v1/jobs/run",
        {"thread_id": "chunked", "graph": "chain"},
        format="json",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert_error(response, 411, "invalid_argument")
    assert rows()["Job"] == 0
    assert AuditLog.objects.get(result="error").details["status_code"] == 411


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/workers/poll", {"worker_id": 0}),
        ("/v1/workers/poll", {"worker_id": "w", "limit": "5"}),
        ("/v1/workers/poll", {"worker_id": "w", "limit": 5.0}),
        ("/v1/workers/poll", {"worker_id": "w", "limit": True}),
        ("/v1/jobs/run", {"thread_id": 7}),
        ("/v1/jobs/run", {"thread_id": "t", "wait_ms": "0"}),
        (
            "/v1/jobs/run",
            {
                "thread_id": "t",
                "retry_policy": {
                    "strategy": "fixed",
                    "backoff_ms": 1,
                    "multiplier": "2",
                },
            },
        ),
        ("/v1/jobs/t/cancel", {"reason": 1}),
    ],
)
def test_a_value_of_the_wrong_json_type_is_400_not_coerced(
    alice_admin, path: str, body: dict
) -> None:
    """Found by schemathesis: DRF took ``0`` for the string ``"0"``."""
    make_job(thread_id="t")
    before = rows()
    assert_error(alice_admin.post(path, body, format="json"), 400, "invalid_argument")
    assert rows() == before


def test_query_parameters_are_still_parsed_from_strings(alice_admin) -> None:
    assert alice_admin.get("/v1/jobs?limit=5&offset=0").status_code == 200
