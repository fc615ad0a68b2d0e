from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from runtime.models import ApiKey
from runtime.services.api_keys import api_key_create, api_key_revoke
from tests.factories import ALICE
from tests.runtime.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_it_is_closed_when_no_credential_is_configured() -> None:
    error = assert_error(APIClient().get("/v1/jobs"), 401, "unauthorized")
    assert "no credential configured" in error["message"]
    assert error["details"] == {
        "supported_auth": [],
        "configure": [
            "ORIS_API_AUTH_BEARER_TOKEN",
            "ORIS_API_AUTH_API_KEY",
            "ORIS_API_AUTH_API_KEY_ID",
        ],
    }


def test_it_answers_401_without_credentials_once_keys_exist(stranger) -> None:
    error = assert_error(stranger.get("/v1/jobs"), 401, "unauthorized")
    assert error["details"]["supported_auth"] == ["sqlite:x-api-key-id+x-api-key"]


def test_a_keyed_api_key_authenticates_and_records_its_use(alice_admin) -> None:
    assert alice_admin.get("/v1/jobs").status_code == 200
    assert ApiKey.objects.get(key_id="alice").last_used_at is not None


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_a_wrong_secret_is_refused(alice_admin, secret: str) -> None:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY_ID="alice", HTTP_X_API_KEY=secret or " ")
    assert_error(client.get("/v1/jobs"), 401, "unauthorized")


def test_revoked_and_expired_keys_are_refused() -> None:
    key, secret = api_key_create(actor=ALICE, role="admin", key_id="k")
    api_key_revoke(key=key, actor=ALICE)
    expiring, secret2 = api_key_create(
        actor=ALICE,
        role="admin",
        key_id="k2",
        expires_at=timezone.now() + timedelta(milliseconds=50),
    )
    ApiKey.objects.filter(pk=expiring.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    for key_id, value in (("k", secret), ("k2", secret2)):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY_ID=key_id, HTTP_X_API_KEY=value)
        assert_error(client.get("/v1/jobs"), 401, "unauthorized")


def test_a_key_revoked_here_is_refused_at_once() -> None:
    """The key's row, kept after its first request, is forgotten by the revoke."""
    key, secret = api_key_create(actor=ALICE, role="admin", key_id="k")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY_ID="k", HTTP_X_API_KEY=secret)
    assert client.get("/v1/jobs").status_code == 200
    api_key_revoke(key=key, actor=ALICE)
    assert_error(client.get("/v1/jobs"), 401, "unauthorized")


def test_a_key_revoked_elsewhere_is_refused_within_the_bound(monkeypatch) -> None:
    """Revoked by another process (the row changed under this one): refused once
    ``KEY_READ_SECONDS`` have passed since this process read it; the secret is
    checked on every request meanwhile."""
    from runtime.api import auth
    from runtime.selectors import records

    clock = [1000.0]
    monkeypatch.setattr(records.time, "monotonic", lambda: clock[0])
    _, secret = api_key_create(actor=ALICE, role="admin", key_id="k")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY_ID="k", HTTP_X_API_KEY=secret)
    assert client.get("/v1/jobs").status_code == 200
    ApiKey.objects.filter(key_id="k").update(status=ApiKey.Status.DISABLED)
    clock[0] += auth.KEY_READ_SECONDS / 2
    assert client.get("/v1/jobs").status_code == 200  # the kept row
    client.credentials(HTTP_X_API_KEY_ID="k", HTTP_X_API_KEY=secret + "x")
    assert_error(client.get("/v1/jobs"), 401, "unauthorized")
    client.credentials(HTTP_X_API_KEY_ID="k", HTTP_X_API_KEY=secret)
    clock[0] += auth.KEY_READ_SECONDS
    assert_error(client.get("/v1/jobs"), 401, "unauthorized")


def test_the_static_bearer_token_is_admin(settings) -> None:
    settings.ORIS_API_AUTH_BEARER_TOKEN = "s3cret"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer s3cret")
    assert (
        client.post("/v1/workers/poll", {"worker_id": "w"}, format="json").status_code
        == 200
    )
    client.credentials(HTTP_AUTHORIZATION="Bearer nope")
    error = assert_error(client.get("/v1/jobs"), 401, "unauthorized")
    assert error["details"]["supported_auth"] == ["bearer"]
    client.credentials(HTTP_AUTHORIZATION="bearer s3cret")  # prefix is case-sensitive
    assert_error(client.get("/v1/jobs"), 401, "unauthorized")


def test_the_static_api_key_is_admin_and_a_static_pair_is_operator(settings) -> None:
    settings.ORIS_API_AUTH_API_KEY = "k3y"
    client = APIClient()
    client.credentials(HTTP_X_API_KEY="k3y")
    assert client.get("/v1/audit/logs").status_code == 200
    settings.ORIS_API_AUTH_API_KEY_ID = "ops"
    client.credentials(HTTP_X_API_KEY_ID="ops", HTTP_X_API_KEY="k3y")
    assert client.get("/v1/jobs").status_code == 200
    assert_error(
        client.post("/v1/workers/poll", {"worker_id": "w"}, format="json"),
        403,
        "forbidden",
    )


def test_disabling_auth_makes_callers_anonymous(settings) -> None:
    settings.ORIS_API_AUTH_DISABLED = True
    response = APIClient().post(
        "/v1/jobs/run", {"thread_id": "anon", "input": "hi"}, format="json"
    )
    assert response.status_code == 200
    from runtime.models import AuditLog

    assert AuditLog.objects.get(action="job.run").actor_type == "anonymous"


def test_a_role_header_cannot_escalate(walter_worker) -> None:
    walter_worker.credentials(**walter_worker._credentials, HTTP_X_ORIS_ROLE="admin")
    assert_error(walter_worker.get("/v1/jobs"), 403, "forbidden")


@pytest.mark.parametrize(
    ("groups", "superuser", "status"),
    [((), True, 200), (("oris-operator",), False, 200), ((), False, 401)],
)
def test_staff_sessions_map_to_roles(
    groups: tuple[str, ...], superuser: bool, status: int
) -> None:
    user = get_user_model().objects.create_user(
        "carol", password="pw-12345678", is_staff=True, is_superuser=superuser
    )
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    client = APIClient()
    client.force_login(user)
    assert client.get("/v1/jobs").status_code == status


def test_disabling_auth_never_opens_beside_api_keys(settings, alice_admin) -> None:
    settings.ORIS_API_AUTH_DISABLED = True
    response = APIClient().post(
        "/v1/jobs/run", {"thread_id": "anon", "input": "hi"}, format="json"
    )
    assert_error(response, 401, "unauthorized")
    from runtime.models import Job

    assert not Job.objects.exists()


def test_disabling_auth_never_opens_beside_a_static_token(settings) -> None:
    settings.ORIS_API_AUTH_DISABLED = True
    settings.ORIS_API_AUTH_BEARER_TOKEN = "s3cret"
    assert_error(APIClient().get("/v1/jobs"), 401, "unauthorized")
