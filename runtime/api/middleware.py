"""Per-request plumbing for /v1: request id, size limit, request log, error audit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, ResolverMatch, resolve

from runtime.api.envelope import error_body, request_id
from runtime.api.principal import Principal
from runtime.services.audit import Actor, audit_record

logger = logging.getLogger("runtime.api")


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


def resolved(request: HttpRequest) -> ResolverMatch | None:
    """The route of the request: Django's match, or resolved here when the request
    was refused before the URL was resolved (413)."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match
    try:
        return resolve(request.path_info)
    except Resolver404:
        return None


def audit_facts(match: ResolverMatch | None) -> tuple[str, str, str | None] | None:
    """The resolved API class's audit action, resource type and resource id."""
    view: Any = getattr(match.func, "view_class", None) if match else None
    action = getattr(view, "audit_action", None)
    if match is None or not action:
        return None
    kwarg = view.audit_resource_kwarg
    return action, view.audit_resource, match.kwargs.get(kwarg) if kwarg else None


def audit_refusal(request: HttpRequest, response: HttpResponse) -> None:
    facts = audit_facts(resolved(request))
    if facts is None:
        return
    action, resource_type, resource_id = facts
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
        resource_id=resource_id,
        result="error",
        details={
            "method": "POST",
            "path": request.path,
            "status_code": response.status_code,
            "error": _error_code(response),
        },
    )


def _error_code(response: HttpResponse) -> str | None:
    try:
        return json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
