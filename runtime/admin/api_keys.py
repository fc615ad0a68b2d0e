"""API keys: create (the secret is shown once, never stored), revoke, last use."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers

from runtime.admin.base import ConsoleAdmin, actor_for
from runtime.errors import OrisError
from runtime.models import ApiKey
from runtime.services.api_keys import api_key_create, api_key_revoke

# The session key holding a new key's secret between the POST that created it
# and the one page that shows it (popped there: a reload shows it no more).
CREATED_SESSION_KEY = "oris_created_api_key"


class ApiKeyCreateForm(forms.Form):
    role = forms.ChoiceField(choices=ApiKey.Role.choices, initial=ApiKey.Role.OPERATOR)
    label = forms.CharField(required=False, max_length=256)
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires at (optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


@admin.register(ApiKey)
class ApiKeyAdmin(ConsoleAdmin):
    detail_template = "admin/runtime/apikey/detail.html"
    list_display = (
        "key_id",
        "label",
        "role",
        "status",
        "expires_at",
        "last_used_at",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "role")
    search_fields = ("key_id", "label", "created_by")
    ordering = ("-created_at",)
    actions = ("revoke_selected",)
    audit_resource = "api_key"
    audit_actions = {
        "revoke_selected": "api_key.revoke",
        "revoke": "api_key.revoke",
        "add": "api_key.create",
    }
    fields = (
        "key_id",
        "label",
        "role",
        "status",
        "expires_at",
        "last_used_at",
        "created_by",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "add")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.perm(request, "change")

    def detail_action(self, request: HttpRequest) -> str:
        return "revoke"  # the page's one action

    def audit_resource_id(self, obj: ApiKey) -> str:
        return obj.key_id

    @admin.action(permissions=["revoke"], description="Revoke selected keys (for good)")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        actor = actor_for(request)
        revoked = 0
        for key in queryset.filter(status=ApiKey.Status.ACTIVE):
            try:
                api_key_revoke(key=key, actor=actor)
                revoked += 1
            except OrisError as exc:
                self.refused(request, "revoke_selected", key, exc)
        self.report(request, f"Revoked {revoked} key(s).")

    def add_view(
        self,
        request: HttpRequest,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Create a key; the answer to the POST is the only place its secret shows."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ApiKeyCreateForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                key, secret = api_key_create(
                    actor=actor_for(request),
                    role=form.cleaned_data["role"],
                    label=form.cleaned_data["label"],
                    expires_at=form.cleaned_data["expires_at"],
                )
            except OrisError as exc:
                self.refused(request, "add", None, exc)
                form.add_error(None, exc.message)
            else:
                # Redirect after the POST, so a reload cannot create a second key.
                request.session[CREATED_SESSION_KEY] = [key.pk, secret]
                return HttpResponseRedirect(reverse("admin:runtime_apikey_created"))
        return self._page(request, "admin/runtime/apikey/add.html", form=form)

    def get_urls(self) -> list[URLPattern]:
        created = self.admin_site.admin_view(self.created_view)
        return [
            path("created/", created, name="runtime_apikey_created"),
            *super().get_urls(),
        ]

    def created_view(self, request: HttpRequest) -> HttpResponse:
        """The new key with its secret, once: the session forgets it here."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        found = request.session.pop(CREATED_SESSION_KEY, None)
        key = self.get_object(request, str(found[0])) if found else None
        if key is None or found is None:
            self.report(
                request,
                "The secret of a new key is shown only once; it cannot be shown again.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:runtime_apikey_changelist"))
        response = self._page(
            request, "admin/runtime/apikey/created.html", key=key, secret=found[1]
        )
        add_never_cache_headers(response)
        return response

    def _page(
        self, request: HttpRequest, template: str, **extra: Any
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "title": "Create an API key",
            **extra,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    # --- detail page -------------------------------------------------------------

    def detail_context(self, request: HttpRequest, obj: ApiKey) -> dict[str, Any]:
        return {
            "title": f"API key {obj.key_id}",
            "can_revoke": obj.status == ApiKey.Status.ACTIVE
            and self.has_revoke_permission(request),
        }

    def handle_post(self, request: HttpRequest, obj: ApiKey) -> HttpResponse:
        if not self.has_revoke_permission(request):
            return super().handle_post(request, obj)
        try:
            api_key_revoke(key=obj, actor=actor_for(request))
        except OrisError as exc:
            self.refused(request, "revoke", obj, exc)
            self.report(request, "This key was already revoked.", messages.WARNING)
            return self.redirect_to(obj)
        self.report(request, f"Revoked {obj.key_id}: it is never accepted again.")
        return self.redirect_to(obj)
