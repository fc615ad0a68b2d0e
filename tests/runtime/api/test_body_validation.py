"""A JSON body is validated as DRF's ``is_valid`` validates it: the same data and
the same errors (``base.validated`` takes DRF's steps with what depends only on
the serializer found once)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

import runtime.api.urls  # noqa: F401  (imports every API module and its bodies)
from runtime.api.base import validated
from runtime.errors import InvalidArgument

SAMPLES: list[Any] = [None, "", " ", "x", "5", 0, 1, -1, 7.5, True, [], ["a"], {}]
SAMPLES += [{"a": 1}, {"timeout_ms": 5, "on_timeout_status": "failed"}]


def _bodies() -> list[Any]:
    classes, todo = [], list(serializers.Serializer.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("runtime.") and not issubclass(
            cls, serializers.ModelSerializer
        ):
            classes.append(cls)
    return sorted(set(classes), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _drf(cls: type[serializers.Serializer], body: Any) -> tuple[bool, Any]:
    serializer = cls(data=body, context={"query": False})
    try:
        if serializer.is_valid():
            return True, dict(serializer.validated_data)
    except InvalidArgument as exc:  # a serializer's own rule, as a service's
        return False, str(exc)
    return False, serializer.errors


def _ours(cls: type[serializers.Serializer], body: Any) -> tuple[bool, Any]:
    try:
        return True, validated(cls, body)
    except serializers.ValidationError as exc:
        return False, exc.detail
    except InvalidArgument as exc:
        return False, str(exc)


@pytest.mark.parametrize("cls", _bodies(), ids=lambda c: c.__qualname__)
def test_each_body_is_validated_as_drf_validates_it(cls) -> None:
    names = list(cls().fields)
    bodies: list[Any] = [{}, {"unknown": 1}]
    bodies += [{name: value} for name in names for value in SAMPLES]
    bodies += [{name: value for name in names} for value in SAMPLES]
    for body in bodies:
        assert _ours(cls, body) == _drf(cls, body), body
