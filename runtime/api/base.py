"""What every /v1 API class shares."""

from __future__ import annotations

from typing import Any, cast

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from runtime.api import envelope
from runtime.api.principal import Principal
from runtime.errors import InvalidArgument
from runtime.services.audit import Actor


class OrisApi(APIView):
    """An API class: names its scope, answers in the envelope."""

    required_scope: str

    def ok(self, data: Any, status: int = 200) -> Response:
        return envelope.ok(self.request, data, status)

    def actor(self) -> Actor:
        principal = cast(Principal, self.request.user)  # set by ApiKeyAuthentication
        return principal.actor(envelope.request_id(self.request))

    def body(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        return _validated(serializer, self.request.data)

    def query(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        return _validated(serializer, self.request.query_params)


def _validated(serializer: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) and not hasattr(data, "getlist"):
        raise InvalidArgument("request body must be a JSON object")
    found = serializer(data=data)
    found.is_valid(raise_exception=True)
    return dict(found.validated_data)


def not_empty(value: str, name: str) -> str:
    """The reference's ``<name> must not be empty`` check (after trimming)."""
    if not value.strip():
        raise InvalidArgument(f"{name} must not be empty")
    return value


class AnyJSONField(serializers.JSONField):
    """Any JSON value, ``null`` included."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


def rfc3339(value: Any) -> str | None:
    """A datetime as the reference prints it (UTC, ``+00:00``)."""
    return value.isoformat() if value is not None else None
