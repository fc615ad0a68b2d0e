"""Project URLs: /healthz, /admin/, /metrics, the OpenAPI schema and its docs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from runtime.views import healthz

admin.site.site_header = "Oris console"
admin.site.site_title = "Oris console"
admin.site.index_title = "Operations"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "schema/docs/",
        SpectacularSwaggerView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
]
