"""The reference's response envelopes and request ids."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.http import HttpRequest
from rest_framework.response import Response

META = {"status": "ok", "api_version": "v1"}
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from(header: str | None) -> str:
    """The client's ``x-request-id`` when valid (1..128 of ``[A-Za-z0-9-_.:]``),
    else a new UUID4."""
    value = (header or "").strip()
    return value if _VALID_REQUEST_ID.match(value) else str(uuid.uuid4())


def request_id(request: HttpRequest) -> str:
    rid = getattr(request, "oris_request_id", None)
    if rid is None:
        rid = request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.oris_request_id = rid  # type: ignore[attr-defined]
    return rid


def ok(request: HttpRequest, data: Any, status: int = 200) -> Response:
    body = {"meta": META, "request_id": request_id(request), "data": data}
    return Response(body, status=status)


def error_body(request: HttpRequest, code: str, message: str, details: Any) -> dict:
    return {
        "request_id": request_id(request),
        "error": {"code": code, "message": message, "details": details},
    }
