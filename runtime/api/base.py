"""What every /v1 API class shares, and the facts each one declares."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, cast

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField, empty, get_error_detail
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.utils import html
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
    validator = _validator(serializer, query)
    if query or html.is_html_input(data):
        return dict(validator.run_validation(data))
    return _body_validated(validator, data)


def _body_validated(validator: serializers.Serializer, data: Any) -> dict[str, Any]:
    """DRF's ``Serializer.run_validation`` of a JSON object, step by step, with
    what depends only on the serializer found once (``_body_steps``): each
    given field validated by its own ``run_validation``, an absent one's
    default or error as DRF's ``validate_empty_values`` finds it (an absent
    field that neither is required nor has a default is skipped unasked)."""
    plan = _body_steps(validator)
    if plan is None or not isinstance(data, Mapping):
        return dict(validator.run_validation(data))  # DRF's own loop and errors
    steps, checked = plan
    value: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for name, field, source, skip_absent, validate_method in steps:
        given = data.get(name, empty)
        if given is empty and skip_absent:
            continue
        try:
            result = field.run_validation(given)
            if validate_method is not None:
                result = validate_method(result)
        except ValidationError as exc:
            errors[name] = exc.detail
        except DjangoValidationError as exc:
            errors[name] = get_error_detail(exc)
        except SkipField:
            pass
        else:
            validator.set_value(value, source, result)
    if errors:
        raise ValidationError(errors)
    try:
        if checked:
            validator.run_validators(value)
        value = validator.validate(value)
    except (ValidationError, DjangoValidationError) as exc:
        raise ValidationError(detail=as_serializer_error(exc)) from exc
    return dict(value)


# a field's name, the field, its source, whether it is skipped when absent, and
# the serializer's ``validate_<name>``
_Step = tuple[str, serializers.Field, list[str], bool, Any]


@cache
def _body_steps(
    validator: serializers.Serializer,
) -> tuple[tuple[_Step, ...], bool] | None:
    """The writable fields of ``validator`` as ``_body_validated`` takes them, and
    whether the serializer has validators of its own; ``None`` (DRF's loop) if a
    field's value is not read as ``data.get(name)`` from a JSON object (a
    custom ``get_value``)."""
    steps: list[_Step] = []
    for field in validator._writable_fields:
        if type(field).get_value not in _PLAIN_GET_VALUE:
            return None
        name = str(field.field_name)  # set when the serializer bound its fields
        skip_absent = not field.required and field.default is empty
        method = getattr(validator, "validate_" + name, None)
        steps.append((name, field, field.source_attrs, skip_absent, method))
    return tuple(steps), bool(validator.validators)


_PLAIN_GET_VALUE = (
    serializers.Field.get_value,
    serializers.Serializer.get_value,
    serializers.JSONField.get_value,
)


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
