from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from runtime.models import ApiKey, AuditLog
from runtime.services.api_keys import api_key_create
from tests.factories import ALICE

pytestmark = pytest.mark.django_db

KEYS = reverse("admin:runtime_apikey_changelist")
ADD = reverse("admin:runtime_apikey_add")


def detail(key: ApiKey) -> str:
    return reverse("admin:runtime_apikey_change", args=[key.pk])


CREATED = reverse("admin:runtime_apikey_created")


def test_create_shows_the_secret_exactly_once(admin_client: Client) -> None:
    posted = admin_client.post(
        ADD, {"role": "operator", "label": "ci", "expires_at": "2999-01-01T00:00"}
    )
    assert (posted.status_code, posted["Location"]) == (302, CREATED)
    response = admin_client.get(CREATED)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get(label="ci")
    secret = response.context["secret"]
    assert key.matches(secret)
    assert secret in response.content.decode()
    assert key.role == ApiKey.Role.OPERATOR
    assert key.expires_at.year == 2999
    assert key.created_by == "user:alice"
    for url in (KEYS, detail(key)):
        assert secret not in admin_client.get(url).content.decode()
    # Reloading the page neither shows the secret again nor creates a key.
    reloaded = admin_client.get(CREATED, follow=True)
    assert secret not in reloaded.content.decode()
    assert "shown only once" in reloaded.content.decode()
    assert ApiKey.objects.count() == 1
    row = AuditLog.objects.get(action="api_key.create", resource_id=key.key_id)
    assert (row.actor_type, row.actor_id, row.actor_role) == (
        "user",
        "alice",
        "admin",  # a member of oris-admin
    )


def test_expiry_is_optional_and_must_be_in_the_future(admin_client: Client) -> None:
    admin_client.post(ADD, {"role": "worker", "label": "forever"})
    assert ApiKey.objects.get(label="forever").expires_at is None
    response = admin_client.post(
        ADD, {"role": "worker", "label": "past", "expires_at": "2001-01-01T00:00"}
    )
    assert "expires_at must be in the future" in response.content.decode()
    assert not ApiKey.objects.filter(label="past").exists()


def test_the_list_shows_role_status_and_last_use(admin_client: Client) -> None:
    key, _ = api_key_create(actor=ALICE, role="worker", label="runner")
    body = admin_client.get(KEYS).content.decode()
    assert key.key_id in body
    assert "worker" in body
    assert "Last used at" in body


def test_revoke_disables_the_key_for_good(admin_client: Client) -> None:
    key, _ = api_key_create(actor=ALICE, role="operator")
    response = admin_client.post(detail(key), follow=True)
    assert "it is never accepted again" in response.content.decode()
    key.refresh_from_db()
    assert key.status == ApiKey.Status.DISABLED
    again = admin_client.post(detail(key), follow=True)
    assert "already revoked" in again.content.decode()
    rows = AuditLog.objects.filter(action="api_key.revoke", resource_id=key.key_id)
    assert {(r.result, r.actor_id) for r in rows} == {
        ("success", "alice"),
        ("error", "alice"),  # the second revoke, refused
    }


def test_revoke_selected_action(admin_client: Client) -> None:
    first, _ = api_key_create(actor=ALICE, role="operator")
    second, _ = api_key_create(actor=ALICE, role="worker")
    admin_client.post(
        KEYS, {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]}
    )
    statuses = set(ApiKey.objects.values_list("status", flat=True))
    assert statuses == {ApiKey.Status.DISABLED}


def test_an_operator_gets_403_on_api_keys(operator_client: Client) -> None:
    key, _ = api_key_create(actor=ALICE, role="operator")
    assert operator_client.get(KEYS).status_code == 403
    assert operator_client.get(ADD).status_code == 403
    assert operator_client.post(ADD, {"role": "admin"}).status_code == 403
    assert operator_client.post(detail(key)).status_code == 403
    assert ApiKey.objects.count() == 1
    key.refresh_from_db()
    assert key.status == ApiKey.Status.ACTIVE


def test_nobody_deletes_a_key(admin_client: Client) -> None:
    key, _ = api_key_create(actor=ALICE, role="operator")
    delete = reverse("admin:runtime_apikey_delete", args=[key.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()
