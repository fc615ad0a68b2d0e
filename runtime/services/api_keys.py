"""API keys: created with a secret shown once, stored hashed, revoked for good."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from runtime.errors import Conflict, InvalidArgument
from runtime.models import ApiKey
from runtime.models.access import hash_secret
from runtime.selectors import api_key_forget
from runtime.services.audit import Actor, audit_record


def api_key_create(
    *,
    actor: Actor,
    role: str,
    label: str = "",
    key_id: str | None = None,
    secret: str | None = None,
    expires_at: datetime | None = None,
    at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Creates a key; returns it with its plaintext secret, which is not stored."""
    now = at or timezone.now()
    if role not in ApiKey.Role.values:
        raise InvalidArgument(f"role must be one of: {'|'.join(ApiKey.Role.values)}")
    if expires_at is not None and expires_at <= now:
        raise InvalidArgument("expires_at must be in the future")
    key_id = key_id or f"key-{uuid.uuid4().hex[:12]}"
    secret = secret or f"oris_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        if ApiKey.objects.filter(key_id=key_id).exists():
            raise Conflict(f"api key '{key_id}' already exists")
        key = ApiKey.objects.create(
            key_id=key_id,
            secret_hash=hash_secret(secret),
            role=role,
            label=label,
            expires_at=expires_at,
            created_by=str(actor),
            created_at=now,
            updated_at=now,
        )
        _forget(key_id)
        audit_record(
            actor=actor,
            action="api_key.create",
            resource_type="api_key",
            resource_id=key_id,
            details={"role": role, "label": label},
            at=now,
        )
    return key, secret


def api_key_revoke(*, key: ApiKey, actor: Actor, at: datetime | None = None) -> ApiKey:
    """Disables a key; it is never accepted again."""
    now = at or timezone.now()
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=key.pk, status=ApiKey.Status.ACTIVE).update(
            status=ApiKey.Status.DISABLED, updated_at=now
        )
        if updated != 1:
            raise Conflict(f"api key '{key.key_id}' is already disabled")
        audit_record(
            actor=actor,
            action="api_key.revoke",
            resource_type="api_key",
            resource_id=key.key_id,
            at=now,
        )
        _forget(key.key_id)
    key.refresh_from_db()
    return key


def api_key_touch(*, key: ApiKey, at: datetime | None = None) -> None:
    """Records use; at most once a minute per key, to keep reads cheap."""
    now = at or timezone.now()
    if key.last_used_at and key.last_used_at > now - timedelta(minutes=1):
        return  # recorded recently, as far as this request knows
    ApiKey.objects.filter(pk=key.pk).exclude(
        last_used_at__gt=now - timedelta(minutes=1)
    ).update(last_used_at=now)
    key.last_used_at = now  # a kept row (api_key_find) knows it too


def _forget(key_id: str) -> None:
    """This process's kept read of the key (``api_key_find``) is forgotten now and
    when the change commits (a request between the two could read the old row)."""
    api_key_forget(key_id=key_id)
    transaction.on_commit(lambda: api_key_forget(key_id=key_id))
