"""Per-credential rate limits on /v1: 429 in the envelope with ``Retry-After``."""

from __future__ import annotations

import pytest

from runtime.api.throttling import parse_rate
from tests.runtime.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_it_is_on_by_default(settings) -> None:
    assert parse_rate(settings.ORIS_API_RATE_LIMIT) == (6000, 60)


def test_a_key_over_its_rate_gets_429_with_retry_after(
    settings, alice_admin, bob_operator
) -> None:
    settings.ORIS_API_RATE_LIMIT = "2/minute"
    assert alice_admin.get("/v1/jobs").status_code == 200
    assert alice_admin.get("/v1/jobs").status_code == 200
    refused = alice_admin.get("/v1/jobs")
    error = assert_error(refused, 429, "invalid_argument")
    assert error["message"] == "rate limit exceeded"
    wait = error["details"]["retry_after_s"]
    assert 1 <= wait <= 60
    assert refused["Retry-After"] == str(wait)
    assert bob_operator.get("/v1/jobs").status_code == 200  # counted per key


def test_a_throttled_run_writes_nothing(settings, alice_admin) -> None:
    from runtime.models import Job

    settings.ORIS_API_RATE_LIMIT = "1/hour"
    alice_admin.get("/v1/jobs")
    response = alice_admin.post("/v1/jobs/run", {"thread_id": "t"}, format="json")
    assert_error(response, 429, "invalid_argument")
    assert not Job.objects.exists()


def test_off_means_unlimited(settings, alice_admin) -> None:
    settings.ORIS_API_RATE_LIMIT = "off"
    for _ in range(5):
        assert alice_admin.get("/v1/jobs").status_code == 200


def test_unauthenticated_requests_are_refused_before_they_count(
    settings, stranger, alice_admin
) -> None:
    settings.ORIS_API_RATE_LIMIT = "1/minute"
    for _ in range(3):
        assert_error(stranger.get("/v1/jobs"), 401, "unauthorized")
    assert alice_admin.get("/v1/jobs").status_code == 200
