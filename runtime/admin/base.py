"""Shared pieces of the console: read-only admins and service-call plumbing."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import ResolverMatch, reverse

from runtime.errors import OrisError
from runtime.refusals import Refusal, note_refusal
from runtime.services.audit import Actor


def actor_for(request: HttpRequest) -> Actor:
    """The staff user behind a console request, as the services' actor."""
    return Actor.for_user(request.user)


class ConsoleAdmin(admin.ModelAdmin):
    """A view-only admin: pages read models, changes go through actions and
    small POST handlers that call services (never ``save()``/``delete()``)."""

    detail_template: str = ""
    # A refused console action is audited by the middleware (as on /v1) under the
    # audit action it names here: bulk action names, detail-page choices, "add".
    audit_resource: ClassVar[str] = ""
    audit_actions: ClassVar[dict[str, str]] = {}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Model | None = None
    ) -> bool:
        return False

    def perm(self, request: HttpRequest, action: str) -> bool:
        """Whether the user holds ``runtime.<action>_<model>``."""
        return request.user.has_perm(f"runtime.{action}_{self.opts.model_name}")

    def require(self, request: HttpRequest, action: str) -> None:
        if not self.perm(request, action):
            raise PermissionDenied

    def detail_url(self, obj: Model) -> str:
        info = (self.opts.app_label, self.opts.model_name)
        return reverse("admin:{}_{}_change".format(*info), args=[obj.pk])

    def redirect_to(self, obj: Model) -> HttpResponseRedirect:
        return HttpResponseRedirect(self.detail_url(obj))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The detail page; a POST is an operator's action on the object."""
        if not self.detail_template:
            return super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            # Django's own "not found" redirect, private so not in the stubs.
            redirect = self._get_obj_does_not_exist_redirect  # type: ignore[attr-defined]
            return redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        if request.method == "POST":
            return self.handle_post(request, obj)
        return self.render_detail(request, obj)

    def handle_post(self, request: HttpRequest, obj: Any) -> HttpResponse:
        raise PermissionDenied

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Django answers a bulk action the user may not run with a message, not a
        403: noted here, so it is audited as refused."""
        name = request.POST.get("action", "") if request.method == "POST" else ""
        if (
            name in self.audit_actions
            and self.has_view_or_change_permission(request)
            and name not in self.get_actions(request)
        ):
            action = self.audit_actions[name]
            refusal = Refusal(action, self.audit_resource, None, 403, "forbidden")
            note_refusal(request, refusal)
        return super().changelist_view(request, extra_context)

    def detail_action(self, request: HttpRequest) -> str:
        """The console action a detail-page POST asks for."""
        return ""

    def audit_resource_id(self, obj: Any) -> str:
        return str(obj.pk)

    def refused_facts(
        self, request: HttpRequest, match: ResolverMatch
    ) -> tuple[str, str, str | None] | None:
        """What a refused POST (403: no permission, CSRF) asked, for the audit."""
        object_id = match.kwargs.get("object_id")
        if (match.url_name or "").endswith("_add"):
            name = "add"
        elif object_id is not None:
            name = self.detail_action(request)
        else:
            name = request.POST.get("action", "")
        action = self.audit_actions.get(name)
        if action is None:
            return None
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        resource_id = self.audit_resource_id(obj) if obj is not None else object_id
        return action, self.audit_resource, resource_id

    def refused(
        self, request: HttpRequest, name: str, obj: Any, error: OrisError
    ) -> None:
        """Notes a console action a service refused (a conflict), for the audit."""
        resource_id = self.audit_resource_id(obj) if obj is not None else None
        refusal = Refusal(
            self.audit_actions[name],
            self.audit_resource,
            resource_id,
            error.http_status,
            error.code,
        )
        note_refusal(request, refusal)

    def detail_context(self, request: HttpRequest, obj: Any) -> dict[str, Any]:
        return {}

    def render_detail(
        self, request: HttpRequest, obj: Any, **extra: Any
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": obj,
            "object_id": obj.pk,
            "title": str(obj),
            "subtitle": None,
            "has_view_permission": True,
            **self.detail_context(request, obj),
            **extra,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.detail_template, context)

    def report(self, request: HttpRequest, text: str, level: int = messages.SUCCESS):
        self.message_user(request, text, level=level)
