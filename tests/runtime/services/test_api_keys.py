from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.errors import Conflict, InvalidArgument
from runtime.models import ApiKey, AuditLog
from runtime.services.api_keys import api_key_create, api_key_revoke, api_key_touch
from tests.factories import ALICE

pytestmark = pytest.mark.django_db


def test_it_stores_only_a_hash_and_returns_the_secret_once() -> None:
    key, secret = api_key_create(actor=ALICE, role="worker", label="ci")
    assert secret.startswith("oris_")
    assert secret not in key.secret_hash
    assert key.matches(secret)
    assert not key.matches(secret + "x")
    assert AuditLog.objects.get(action="api_key.create").resource_id == key.key_id


def test_it_validates_role_and_expiry() -> None:
    with pytest.raises(InvalidArgument, match="role"):
        api_key_create(actor=ALICE, role="root")
    with pytest.raises(InvalidArgument, match="future"):
        api_key_create(actor=ALICE, role="admin", expires_at=timezone.now())
    assert not ApiKey.objects.exists()


def test_revoked_and_expired_keys_are_unusable() -> None:
    key, _ = api_key_create(actor=ALICE, role="operator")
    later = timezone.now() + timedelta(days=1)
    assert key.is_usable(at=later)
    key = api_key_revoke(key=key, actor=ALICE)
    assert not key.is_usable(at=later)
    with pytest.raises(Conflict):
        api_key_revoke(key=key, actor=ALICE)
    soon, _ = api_key_create(
        actor=ALICE, role="operator", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert not soon.is_usable(at=timezone.now() + timedelta(hours=2))


def test_a_duplicate_key_id_conflicts() -> None:
    api_key_create(actor=ALICE, role="admin", key_id="k1")
    with pytest.raises(Conflict):
        api_key_create(actor=ALICE, role="admin", key_id="k1")


def test_use_is_recorded_at_most_once_a_minute() -> None:
    key, _ = api_key_create(actor=ALICE, role="admin")
    now = timezone.now()
    api_key_touch(key=key, at=now)
    api_key_touch(key=key, at=now + timedelta(seconds=30))
    key.refresh_from_db()
    assert key.last_used_at == now
