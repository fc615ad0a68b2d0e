"""Serializer fields bounded by the columns they end up in, and the path ids.

Lengths and ranges are read from the model fields (never retyped), so a value the
database would refuse is a 400 in the envelope on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from rest_framework import serializers

from runtime.errors import InvalidArgument
from runtime.models import Attempt, Checkpoint, Interrupt, Job, Lease

RANGES = BaseDatabaseOperations.integer_field_ranges
# Counts and offsets of a query: whatever a positive integer column can hold.
COUNT_RANGE = RANGES["PositiveIntegerField"]


def column(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)  # type: ignore[return-value]


def text(model: type[models.Model], name: str, **kwargs: Any) -> serializers.CharField:
    """A string for ``model.name``: at most its ``max_length`` (and, as every DRF
    ``CharField``, without NUL)."""
    kwargs.setdefault("max_length", column(model, name).max_length)
    return serializers.CharField(**kwargs)


def integer(
    model: type[models.Model] | None = None, name: str = "", **kwargs: Any
) -> serializers.IntegerField:
    """An integer within ``model.name``'s range (a count's range without one)."""
    low, high = (
        RANGES[column(model, name).get_internal_type()] if model else COUNT_RANGE
    )
    kwargs.setdefault("min_value", low)
    kwargs.setdefault("max_value", high)
    return serializers.IntegerField(**kwargs)


class MillisecondsField(serializers.IntegerField):
    """A Unix time in milliseconds, as an aware datetime (only years 1 to 9999)."""

    EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
    LOW = (datetime.min.replace(tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)
    HIGH = (datetime.max.replace(tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=self.LOW, max_value=self.HIGH, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)
        if value is None:
            return None
        return self.EPOCH + timedelta(milliseconds=value)  # exact: no float


# The URL kwargs of /v1 and the columns they name.
PATH_IDS: dict[str, tuple[type[models.Model], str]] = {
    "thread_id": (Job, "thread_id"),
    "checkpoint": (Checkpoint, "checkpoint_id"),
    "interrupt_id": (Interrupt, "id"),
    "attempt_id": (Attempt, "id"),
    "worker_id": (Lease, "worker_id"),
}


def check_path_ids(kwargs: dict[str, Any]) -> None:
    """Refuses (400) a path id that no row could have: too long or with NUL."""
    for name, value in kwargs.items():
        if name not in PATH_IDS or not isinstance(value, str):
            continue
        if "\x00" in value:
            raise InvalidArgument(f"{name} must not contain NUL")
        limit = column(*PATH_IDS[name]).max_length or 0
        if len(value) > limit:
            raise InvalidArgument(f"{name} must be at most {limit} characters")
