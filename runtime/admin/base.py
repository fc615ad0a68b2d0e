"""Shared pieces of the console: read-only admins and service-call plumbing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from runtime.services.audit import Actor


def actor_for(request: HttpRequest) -> Actor:
    """The staff user behind a console request, as the services' actor."""
    return Actor.for_user(request.user)


class ConsoleAdmin(admin.ModelAdmin):
    """A view-only admin: pages read models, changes go through actions and
    small POST handlers that call services (never ``save()``/``delete()``)."""

    detail_template: str = ""

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
