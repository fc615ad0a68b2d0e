"""What every /v1 API class shares, and the facts each one declares."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar, cast

from django.conf import settings
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from runtime.api import envelope
from runtime.api.fields import COUNT_RANGE, Integer, check_path_ids
from runtime.api.permissions import Scope
from runtime.api.principal import Principal
from runtime.api.schema import OrisAutoSchema
from runtime.errors import InvalidArgument
from runtime.services.audit import Actor


class OrisApi(APIView):
    """An API class: declares its scope (and, for a control action, its audit
    facts), validates, calls one service, answers in the envelope.

    ``required_scope`` is read by ``HasScope``; ``audit_action``, ``audit_resource``
    and ``audit_resource_kwarg`` by the middleware, which audits refused POSTs (the
    services audit the ones that succeed); ``in_contract`` by the tests that hold
    the routes to the reference contract.
    """

    required_scope: ClassVar[Scope]
    schema: Any = OrisAutoSchema()  # None for a route outside the document
    audit_action: ClassVar[str | None] = None  # e.g. "job.resume"
    audit_resource: ClassVar[str] = ""  # the resource type the action is on
    audit_resource_kwarg: ClassVar[str | None] = None  # the URL kwarg naming it
    in_contract: ClassVar[bool] = True  # False: an addition to the reference's API

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        """After authentication and RBAC: path ids no row could have are a 400."""
        super().initial(request, *args, **kwargs)
        check_path_ids(kwargs)

    def ok(self, data: Any, status: int = 200) -> Response:
        return envelope.ok(self.request, data, status)

    def actor(self) -> Actor:
        principal = cast(Principal, self.request.user)  # set by ApiKeyAuthentication
        return principal.actor(envelope.request_id(self.request))

    def body(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        return _validated(serializer, self.request.data, query=False)

    def query(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        return _validated(serializer, self.request.query_params, query=True)


def _validated(
    serializer: type[serializers.Serializer], data: Any, *, query: bool
) -> dict[str, Any]:
    if not isinstance(data, dict) and not hasattr(data, "getlist"):
        raise InvalidArgument("request body must be a JSON object")
    return validated(serializer, data, query=query)


def validated(
    serializer: type[serializers.Serializer], data: Any, *, query: bool = False
) -> dict[str, Any]:
    """``data`` (a mapping) checked by ``serializer``, as ``is_valid`` checks it;
    raises DRF's ``ValidationError`` with the same details."""
    return dict(_validator(serializer, query).run_validation(data))


@cache
def _validator(
    serializer: type[serializers.Serializer], query: bool
) -> serializers.Serializer:
    """One instance per serializer class and kind of data, reused: DRF builds an
    instance's fields anew (a deep copy of each declared field, the costliest
    step of a request), yet validating keeps no state in the instance or its
    fields (``run_validation`` is how a nested serializer validates anyway)."""
    return serializer(context={"query": query})


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


class WaitMsField(Integer):
    """``wait_ms``: how long to hold the answer, capped by ``ORIS_API_MAX_WAIT_MS``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            required=False, min_value=0, max_value=COUNT_RANGE[1], default=0, **kwargs
        )

    def to_internal_value(self, data: Any) -> int:
        return min(super().to_internal_value(data), settings.ORIS_API_MAX_WAIT_MS)
