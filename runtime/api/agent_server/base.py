"""What every Agent Server API class shares: /v1's authentication, roles and
audit facts, and the Agent Server's error shape."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from runtime.api.base import OrisApi, validated
from runtime.api.exceptions import first_message
from runtime.errors import OrisError

logger = logging.getLogger(__name__)

# The first path segments of the Agent Server API (the middleware's limits and
# error shape apply to them as they do to /v1).
PREFIXES = ("assistants", "threads", "runs", "store", "info", "ok")

# The Agent Server answers a request it cannot accept with 422, not 400.
UNPROCESSABLE = 422


def is_agent_server_path(path_info: str) -> bool:
    return path_info.lstrip("/").split("/", 1)[0] in PREFIXES


class AgentServerApi(OrisApi):
    """An Agent Server API class: declares its scope (and audit facts) as a /v1
    class does; answers plain JSON, errors as ``{"detail": ...}``."""

    schema = None  # not part of /v1's OpenAPI document
    in_contract = False

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response]:
        return exception_handler

    def body(self, serializer: type[serializers.Serializer]) -> dict[str, Any]:
        """The request body checked by ``serializer``; an absent body is ``{}``."""
        data = self.request.data
        return (
            super().body(serializer)
            if data or data == {}
            else validated(serializer, {})
        )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every Agent Server error as ``{"detail": <text>}`` with its status: 401,
    403, 404, 409, 413, 422 (what /v1 calls 400), 429; 500 only for a bug."""
    request = context["request"]
    if isinstance(exc, OrisError):
        status = UNPROCESSABLE if exc.http_status == 400 else exc.http_status
        set_rollback()
        return Response({"detail": exc.message}, status=status)
    if isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        set_rollback()
        return Response({"detail": "Internal Server Error"}, status=500)
    if isinstance(exc, drf.ValidationError):
        response.status_code = UNPROCESSABLE
        response.data = {"detail": first_message(exc.detail)}
    elif isinstance(exc, drf.ParseError):
        response.status_code = UNPROCESSABLE
        response.data = {"detail": f"malformed JSON body: {exc.detail}"}
    elif isinstance(exc, Http404):
        response.data = {"detail": "Not Found"}
    elif isinstance(exc, drf.APIException):
        response.data = {"detail": str(exc.detail)}
    return response
