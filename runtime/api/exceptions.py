"""The one exception handler: every /v1 error becomes the reference's envelope."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from runtime.api.auth import supported_auth
from runtime.api.envelope import error_body
from runtime.errors import OrisError

logger = logging.getLogger(__name__)

CODES = {400: "invalid_argument", 401: "unauthorized", 403: "forbidden"}
CODES |= {404: "not_found", 409: "conflict"}


class OrisApiError(drf.APIException):
    """An ``OrisError`` carried through DRF's handler (rollback, headers)."""

    def __init__(self, error: OrisError) -> None:
        super().__init__(error.message, code=error.code)
        self.status_code = error.http_status
        self.oris_code = error.code
        self.details = error.details


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context["request"]
    if isinstance(exc, OrisError):
        exc = OrisApiError(exc)
    elif isinstance(exc, DjangoValidationError):
        exc = drf.ValidationError(exc.messages)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        set_rollback()
        response = Response(status=500)
        code, message, details = "internal", "internal error", None
    else:
        code, message, details = describe(exc, response.status_code)
    response.data = error_body(request, code, message, details)
    return response


# The settings that give /v1 a credential (or API keys created in the console).
CREDENTIAL_SETTINGS = [
    "ORIS_API_AUTH_BEARER_TOKEN",
    "ORIS_API_AUTH_API_KEY",
    "ORIS_API_AUTH_API_KEY_ID",
]


def unauthorized() -> tuple[str, str, Any]:
    """A 401's envelope: when the server has no credential at all, it says so and
    names the variables that configure one (no caller could get in otherwise)."""
    kinds = supported_auth()
    if kinds:
        return (
            "unauthorized",
            "missing or invalid credentials",
            {"supported_auth": kinds},
        )
    return (
        "unauthorized",
        "this server has no credential configured: set ORIS_API_AUTH_BEARER_TOKEN "
        "or ORIS_API_AUTH_API_KEY (with ORIS_API_AUTH_API_KEY_ID for an operator "
        "key pair), or create an API key in the console",
        {"supported_auth": [], "configure": CREDENTIAL_SETTINGS},
    )


def describe(exc: Exception, status: int) -> tuple[str, str, Any]:
    """The envelope's code, message and details for a handled exception."""
    code = getattr(exc, "oris_code", None) or CODES.get(status, "invalid_argument")
    if status >= 500:
        code = "internal"
    details = getattr(exc, "details", None)
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return unauthorized()
    if isinstance(exc, drf.Throttled):  # Retry-After is set by DRF's handler
        retry_after = getattr(exc, "wait", None)  # set by DRF; not in its stubs
        wait = math.ceil(retry_after) if retry_after is not None else None
        return code, "rate limit exceeded", {"retry_after_s": wait}
    if isinstance(exc, drf.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        return code, first_message(fields), {"fields": fields}
    if isinstance(exc, drf.ParseError):
        return code, f"malformed JSON body: {exc.detail}", None
    if isinstance(exc, Http404):
        return "not_found", "not found", None
    message = exc.detail if isinstance(exc, drf.APIException) else str(exc)
    return code, str(message), details


def first_message(fields: Any) -> str:
    """``field: message`` of the first error, for the envelope's message."""
    if isinstance(fields, dict):
        for name, errors in fields.items():
            inner = first_message(errors)
            return f"{name}: {inner}" if name else inner
    if isinstance(fields, list) and fields:
        return first_message(fields[0])
    return str(fields)
