"""Per-request plumbing: request id; on /v1 and the Agent Server API the size limit
and the request log; and the audit of refused control actions, for both APIs and
the console alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, ResolverMatch, resolve
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from runtime.api.agent_server.base import is_agent_server_path
from runtime.api.auth import CredentialAuthentication
from runtime.api.envelope import error_body, request_id
from runtime.api.exceptions import CODES
from runtime.api.principal import Principal
from runtime.models import AuditLog
from runtime.refusals import Refusal, noted_refusals
from runtime.services.audit import Actor, audit_record

logger = logging.getLogger("runtime.api")

RESOURCE_ID_LENGTH = AuditLog._meta.get_field("resource_id").max_length


class ApiMiddleware:
    """Gives every request one request id (echoed as ``X-Request-Id``); on /v1
    refuses bodies over the limit (413) and chunked ones (411) and logs each
    request; audits refused control actions of /v1 and the console (services
    audit the ones that succeed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = request_id(request)
        if not is_api_path(request.path_info):
            response = self.get_response(request)
        else:
            logger.info(
                "execution_api_request request_id=%s method=%s path=%s",
                rid,
                request.method,
                request.path,
            )
            response = refused_body(request) or self.get_response(request)
        if request.method == "POST":
            audit_refusals(request, response)
        response["X-Request-Id"] = rid
        return response


def refused_body(request: HttpRequest) -> HttpResponse | None:
    """413 for a body over the limit; 411 for a chunked one, which Django would
    read as empty (the run would start with defaults instead of what was sent)."""
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        message = "chunked request bodies are not accepted: send Content-Length"
        return _refusal(request, message, 411)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= settings.ORIS_API_MAX_BODY_BYTES:
        return None
    message = f"request body exceeds {settings.ORIS_API_MAX_BODY_BYTES} bytes"
    return _refusal(request, message, 413)


def is_api_path(path_info: str) -> bool:
    """/v1 and the Agent Server API: their body limits and request log."""
    return path_info.startswith("/v1/") or is_agent_server_path(path_info)


def _refusal(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if is_agent_server_path(request.path_info):
        return JsonResponse({"detail": message}, status=status)
    body = error_body(request, "invalid_argument", message, None)
    return JsonResponse(body, status=status)


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


def refused_facts(
    request: HttpRequest, match: ResolverMatch | None
) -> tuple[str, str, str | None] | None:
    """The audit action, resource type and resource id of a refused request: an
    API class declares them; a console admin says them for its POSTs."""
    if match is None:
        return None
    model_admin = getattr(match.func, "model_admin", None)
    if model_admin is not None and hasattr(model_admin, "refused_facts"):
        return model_admin.refused_facts(request, match)
    view: Any = getattr(match.func, "view_class", None)
    action = getattr(view, "audit_action", None)
    if not action:
        return None
    kwarg = view.audit_resource_kwarg
    return action, view.audit_resource, match.kwargs.get(kwarg) if kwarg else None


def audit_refusals(request: HttpRequest, response: HttpResponse) -> None:
    """Audits the refused control actions of a POST: the one its response refuses
    (4xx/5xx) and those noted on the way (``runtime.refusals.note_refusal``)."""
    refusals = noted_refusals(request)
    if response.status_code >= 400:
        facts = refused_facts(request, resolved(request))
        if facts is not None:
            status = response.status_code
            error = _error_code(response) or CODES.get(status, "internal")
            refusals.append(Refusal(*facts, status_code=status, error=error))
    for refusal in refusals:
        audit_refusal(request, refusal)


def audit_refusal(request: HttpRequest, refusal: Refusal) -> None:
    """Audits one refusal. The row holds what the request said, made storable
    (NUL replaced, ids cut to the column); a write that fails anyway is logged
    and never turns the refusal into a 500."""
    try:
        with transaction.atomic():  # a savepoint: a failed insert leaves no trace
            audit_record(
                actor=refusal_actor(request),
                action=refusal.action,
                resource_type=refusal.resource_type,
                resource_id=storable(refusal.resource_id, RESOURCE_ID_LENGTH),
                result="error",
                details={
                    "method": "POST",
                    "path": storable(request.path),
                    "status_code": refusal.status_code,
                    "error": refusal.error,
                },
            )
    except DatabaseError:
        logger.exception(
            "could not audit the refused %s on %r", refusal.action, request.path
        )


def refusal_actor(request: HttpRequest) -> Actor:
    """Who was refused: the principal DRF authenticated, or, for a request refused
    before DRF ran (411, 413), the one its credentials name; else the staff user
    of the session (the console, a CSRF failure); else anonymous."""
    principal = getattr(request, "user", None)
    if not isinstance(principal, Principal) and is_api_path(request.path_info):
        try:
            found = CredentialAuthentication().authenticate(Request(request))
        except AuthenticationFailed:
            found = None
        principal = found[0] if found else None
    if isinstance(principal, Principal):
        return principal.actor(request_id(request))
    user = get_user(request) if hasattr(request, "session") else None
    if user is not None and user.is_authenticated and user.is_staff:
        return Actor.for_user(user, request_id=request_id(request))
    return Actor(type="anonymous", request_id=request_id(request))


def storable(value: str | None, limit: int | None = None) -> str | None:
    """``value`` as every database stores it: no NUL, at most ``limit`` long."""
    if value is None:
        return None
    return value.replace("\x00", "\\x00")[:limit]


def _error_code(response: HttpResponse) -> str | None:
    if response.streaming:
        return None
    try:
        return json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
