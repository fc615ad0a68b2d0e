"""Serializer fields bounded by the columns they end up in, and the path ids.

Lengths and ranges are read from the model fields (never retyped), so a value the
database would refuse is a 400 in the envelope on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import models
from django.db.backends.base.operations import BaseDatabaseOperations
from rest_framework import serializers

from runtime.errors import InvalidArgument
from runtime.models import Attempt, Checkpoint, Interrupt, Job, Lease

RANGES = BaseDatabaseOperations.integer_field_ranges
# Counts and offsets of a query: whatever a positive integer column can hold.
COUNT_RANGE = RANGES["PositiveIntegerField"]


F = TypeVar("F", bound=serializers.Field)


class Stated:
    """A rule a service checks (with the reference's message), stated for the
    OpenAPI document: a validator that checks nothing itself, read by
    ``OrisAutoSchema``. The schemathesis suite holds the two together."""

    def __init__(self, **rules: Any) -> None:
        self.rules = rules

    def __call__(self, value: Any) -> None:
        return None


def described(field: F, **rules: Any) -> F:
    """``field`` with ``rules`` stated (rebuilt from its arguments, as DRF copies
    fields: an attribute set afterwards would not survive)."""
    kwargs = dict(field._kwargs)  # type: ignore[attr-defined]
    kwargs["validators"] = [*kwargs.get("validators", []), Stated(**rules)]
    return type(field)(*field._args, **kwargs)  # type: ignore[attr-defined]


def nonempty(field: F) -> F:
    """A string the services refuse when blank once trimmed (the reference's
    ``<name> must not be empty``)."""
    return described(field, pattern=r"\S")


def any_case(choices: tuple[str, ...]) -> str:
    """A pattern for one of ``choices``, trimmed and in any case (as the services
    read them)."""
    words = ("".join(f"[{c.upper()}{c.lower()}]" for c in w) for w in choices)
    return r"^\s*(" + "|".join(words) + r")\s*$"


def column(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)  # type: ignore[return-value]


class JsonTyped(serializers.Field):
    """A body field that takes only its own JSON type: DRF's fields coerce
    (``0`` is taken as the string ``"0"``, ``"5"`` and ``5.0`` as the integer 5).
    Query parameters are strings, so a query serializer (``context["query"]``)
    keeps DRF's parsing."""

    json_types: tuple[type, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if not self.context.get("query") and (
            isinstance(data, bool) or not isinstance(data, self.json_types)
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class Text(JsonTyped, serializers.CharField):
    json_types = (str,)


class Integer(JsonTyped, serializers.IntegerField):
    json_types = (int,)


class Number(JsonTyped, serializers.FloatField):
    json_types = (int, float)


def text(model: type[models.Model], name: str, **kwargs: Any) -> Text:
    """A string for ``model.name``: at most its ``max_length`` (and, as every DRF
    ``CharField``, without NUL)."""
    kwargs.setdefault("max_length", column(model, name).max_length)
    return Text(**kwargs)


def integer(
    model: type[models.Model] | None = None, name: str = "", **kwargs: Any
) -> Integer:
    """An integer within ``model.name``'s range (a count's range without one)."""
    low, high = (
        RANGES[column(model, name).get_internal_type()] if model else COUNT_RANGE
    )
    kwargs.setdefault("min_value", low)
    kwargs.setdefault("max_value", high)
    return Integer(**kwargs)


class MillisecondsField(Integer):
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
