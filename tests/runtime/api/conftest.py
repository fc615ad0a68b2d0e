"""API personas: one client per role, plus strangers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from runtime.services.api_keys import api_key_create
from tests.factories import ALICE

CONTRACT = json.loads(
    (Path(settings.BASE_DIR) / "docs" / "runtime-api-contract.json").read_text()
)


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Each test starts with full rate-limit windows (the counts live in the cache)."""
    cache.clear()


def keyed_client(role: str, key_id: str) -> APIClient:
    _, secret = api_key_create(actor=ALICE, role=role, key_id=key_id)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY_ID=key_id, HTTP_X_API_KEY=secret)
    return client


@pytest.fixture
def alice_admin(db) -> APIClient:
    return keyed_client("admin", "alice")


@pytest.fixture
def bob_operator(db) -> APIClient:
    return keyed_client("operator", "bob")


@pytest.fixture
def walter_worker(db) -> APIClient:
    return keyed_client("worker", "walter")


@pytest.fixture
def stranger(db, alice_admin) -> APIClient:
    """No credentials, while credentials are configured."""
    return APIClient()


def assert_contract(response: Any, schema: str) -> dict[str, Any]:
    """Validates the body against the reference contract's JSON schema."""
    body = response.json()
    jsonschema.validate(body, CONTRACT["schemas"][schema])
    return body


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"request_id", "error"}
    assert body["error"]["code"] == code
    assert response["X-Request-Id"] == body["request_id"]
    return body["error"]
