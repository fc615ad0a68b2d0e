"""The Agent Server's store routes: ``/store/items`` (put, get, delete),
``/store/items/search`` and ``/store/namespaces``.

Items answer as LangGraph's ``Item.dict()`` (search items with ``score``); a
missing item is ``200 null``. Writes are audited (``store.put``,
``store.delete``); reads are not. Semantic search is not served: ``query`` and
``index`` are accepted and ignored, as a store without an index does.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from runtime.api.agent_server.base import AgentServerApi
from runtime.api.base import AnyJSONField
from runtime.api.fields import Integer, Number, Text
from runtime.api.permissions import Scope
from runtime.services import store

_KEY_MAX = 1024
_LIMIT_MAX = 1000


def _labels(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=Text(max_length=_KEY_MAX, allow_blank=True, trim_whitespace=False),
        max_length=64,
        **kwargs,
    )


def _key() -> Text:
    return Text(max_length=_KEY_MAX, allow_blank=True, trim_whitespace=False)


class ItemApi(AgentServerApi):
    """``PUT`` (write, 204), ``GET`` (read, ``null`` when missing) and ``DELETE``
    (204) of one item."""

    required_scope = Scope.JOBS

    class PutSerializer(serializers.Serializer):
        namespace = _labels()
        key = _key()
        value = AnyJSONField()
        index = AnyJSONField(required=False, allow_null=True)
        ttl = Number(required=False, allow_null=True, min_value=0)

        def validate_value(self, value: Any) -> Any:
            if not isinstance(value, dict):
                raise serializers.ValidationError("value must be a JSON object")
            return value

    class GetSerializer(serializers.Serializer):
        namespace = serializers.CharField(
            allow_blank=True, trim_whitespace=False, max_length=_KEY_MAX, default=""
        )
        key = _key()
        refresh_ttl = serializers.BooleanField(required=False, allow_null=True)

    class DeleteSerializer(serializers.Serializer):
        namespace = _labels()
        key = _key()

    def put(self, request: Request) -> Response:
        data = self.body(self.PutSerializer)
        store.store_item_put(
            namespace=tuple(data["namespace"]),
            key=data["key"],
            value=data["value"],
            ttl=data.get("ttl"),
            actor=self.actor(),
        )
        return Response(status=204)

    def get(self, request: Request) -> Response:
        data = self.query(self.GetSerializer)
        dotted = data["namespace"]
        item = store.store_get(
            namespace=tuple(dotted.split(".")) if dotted else (),
            key=data["key"],
            refresh_ttl=data.get("refresh_ttl"),
        )
        return Response(None if item is None else item.dict())

    def delete(self, request: Request) -> Response:
        data = self.body(self.DeleteSerializer)
        store.store_item_delete(
            namespace=tuple(data["namespace"]), key=data["key"], actor=self.actor()
        )
        return Response(status=204)


class ItemSearchApi(AgentServerApi):
    """``POST /store/items/search``: ``{items: [...]}``, newest first."""

    required_scope = Scope.JOBS

    class InputSerializer(serializers.Serializer):
        namespace_prefix = _labels(default=list)
        filter = AnyJSONField(required=False, allow_null=True)
        limit = Integer(default=10, min_value=0, max_value=_LIMIT_MAX)
        offset = Integer(default=0, min_value=0, max_value=2**31 - 1)
        query = Text(required=False, allow_null=True, allow_blank=True)
        refresh_ttl = serializers.BooleanField(required=False, allow_null=True)

        def validate_filter(self, value: Any) -> Any:
            if value is not None and not isinstance(value, dict):
                raise serializers.ValidationError("filter must be a JSON object")
            return value

    def post(self, request: Request) -> Response:
        data = self.body(self.InputSerializer)
        items = store.store_search(
            namespace_prefix=tuple(data["namespace_prefix"]),
            filter=data.get("filter"),
            limit=data["limit"],
            offset=data["offset"],
            query=data.get("query"),
            refresh_ttl=data.get("refresh_ttl"),
        )
        return Response({"items": [item.dict() for item in items]})


class NamespaceListApi(AgentServerApi):
    """``POST /store/namespaces``: ``{namespaces: [[...], ...]}``, sorted."""

    required_scope = Scope.JOBS

    class InputSerializer(serializers.Serializer):
        prefix = _labels(required=False, allow_null=True)
        suffix = _labels(required=False, allow_null=True)
        max_depth = Integer(required=False, allow_null=True, min_value=1, max_value=64)
        limit = Integer(default=100, min_value=0, max_value=_LIMIT_MAX)
        offset = Integer(default=0, min_value=0, max_value=2**31 - 1)

    def post(self, request: Request) -> Response:
        data = self.body(self.InputSerializer)
        spaces = store.store_namespaces(
            prefix=_optional(data.get("prefix")),
            suffix=_optional(data.get("suffix")),
            max_depth=data.get("max_depth"),
            limit=data["limit"],
            offset=data["offset"],
        )
        return Response({"namespaces": [list(ns) for ns in spaces]})


def _optional(labels: list[str] | None) -> tuple[str, ...] | None:
    return None if labels is None else tuple(labels)


urlpatterns: list[URLPattern] = [
    path("store/items", ItemApi.as_view(), name="store-items"),
    path("store/items/search", ItemSearchApi.as_view(), name="store-items-search"),
    path("store/namespaces", NamespaceListApi.as_view(), name="store-namespaces"),
]
