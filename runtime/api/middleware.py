"""Per-request plumbing for /v1: request id, size limit, request log, error audit."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from runtime.api.envelope import error_body, request_id
from runtime.api.principal import Principal
from runtime.services.audit import Actor, audit_record

logger = logging.getLogger("runtime.api")

# POST routes the reference audits: (pattern, action, resource type).
AUDITED = [
    (re.compile(r"^/v1/jobs(/run)?/?$"), "job.run", "thread"),
    (re.compile(r"^/v1/jobs/(?P<id>[^/]+)/resume/?$"), "job.resume", "thread"),
    (re.compile(r"^/v1/jobs/(?P<id>[^/]+)/replay/?$"), "job.replay", "thread"),
    (re.compile(r"^/v1/jobs/(?P<id>[^/]+)/cancel/?$"), "job.cancel", "thread"),
    (
        re.compile(r"^/v1/interrupts/(?P<id>[^/]+)/resume/?$"),
        "interrupt.resume",
        "interrupt",
    ),
    (
        re.compile(r"^/v1/interrupts/(?P<id>[^/]+)/reject/?$"),
        "interrupt.reject",
        "interrupt",
    ),
    (re.compile(r"^/v1/dlq/(?P<id>[^/]+)/replay/?$"), "dlq.replay", "attempt"),
]


class ApiMiddleware:
    """Gives every request one request id (echoed as ``X-Request-Id``); on /v1
    refuses bodies over the limit with 413, logs each request, and audits refused
    control actions (services audit the ones that succeed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request_id(request)
        if not request.path.startswith("/v1/"):
            response = self.get_response(request)
        else:
            logger.info(
                "execution_api_request request_id=%s method=%s path=%s",
                rid,
                request.method,
                request.path,
            )
            response = self._too_large(request) or self.get_response(request)
            if request.method == "POST" and response.status_code >= 400:
                audit_refusal(request, response)
        response["X-Request-Id"] = rid
        return response

    def _too_large(self, request: HttpRequest) -> HttpResponse | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length <= settings.ORIS_API_MAX_BODY_BYTES:
            return None
        message = f"request body exceeds {settings.ORIS_API_MAX_BODY_BYTES} bytes"
        body = error_body(request, "invalid_argument", message, None)
        return JsonResponse(body, status=413)


def audit_refusal(request: HttpRequest, response: HttpResponse) -> None:
    for pattern, action, resource_type in AUDITED:
        match = pattern.match(request.path)
        if match:
            principal = getattr(request, "user", None)
            actor = (
                principal.actor(request_id(request))
                if isinstance(principal, Principal)
                else Actor(type="anonymous", request_id=request_id(request))
            )
            audit_record(
                actor=actor,
                action=action,
                resource_type=resource_type,
                resource_id=match.groupdict().get("id"),
                result="error",
                details={
                    "method": "POST",
                    "path": request.path,
                    "status_code": response.status_code,
                    "error": _error_code(response),
                },
            )
            return


def _error_code(response: HttpResponse) -> str | None:
    try:
        return json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
