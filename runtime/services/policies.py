"""Saving and deleting the policies an admin edits (retention, budgets): one
audited transaction each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models, transaction

from runtime.services.audit import Actor, audit_record

P = TypeVar("P", bound=models.Model)


def policy_save(
    *, policy: P, actor: Actor, resource: str, details: Callable[[P], dict[str, Any]]
) -> P:
    """Validates and saves a policy; audits ``<resource>.create|update``."""
    created = policy.pk is None
    with transaction.atomic():
        policy.full_clean()
        policy.save()
        audit_record(
            actor=actor,
            action=f"{resource}.{'create' if created else 'update'}",
            resource_type=resource,
            resource_id=str(policy.pk),
            details=details(policy),
        )
    return policy


def policy_delete(
    *, policy: P, actor: Actor, resource: str, details: Callable[[P], dict[str, Any]]
) -> None:
    """Deletes a policy; audits ``<resource>.delete`` with what it said."""
    with transaction.atomic():
        said, resource_id = details(policy), str(policy.pk)
        policy.delete()
        audit_record(
            actor=actor,
            action=f"{resource}.delete",
            resource_type=resource,
            resource_id=resource_id,
            details=said,
        )
