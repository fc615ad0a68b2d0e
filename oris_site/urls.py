"""Project URLs: /healthz, /readyz, /admin/, /metrics, /v1 and its docs at /docs, and
LangGraph's Agent Server API at the root (/assistants, /threads, /runs, /store...)."""

from __future__ import annotations

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from runtime.views import healthz, readyz

admin.site.site_header = "Oris console"
admin.site.site_title = "Oris console"
admin.site.index_title = "Operations"
admin.site.site_url = "/admin/"  # "View site": the console is the site

urlpatterns = [
    path("v1/", include("runtime.api.urls")),  # first: the hottest routes
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("favicon.ico", RedirectView.as_view(url=static("runtime/favicon.svg"))),
    path("", include("django_prometheus.urls")),
    # The split view serves Swagger UI's settings as a script file, not inline,
    # so the page runs under the console's Content-Security-Policy.
    path(
        "docs",
        SpectacularSwaggerSplitView.as_view(url_name="v1:openapi"),
        name="docs",
    ),
    path("", include("runtime.api.agent_server.urls")),
]
