"""The Agent Server routes, mounted at the root of the site (oris_site/urls.py).

Each family's module adds its routes here; any other path under the Agent Server's
prefixes answers 404 in its error shape.
"""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.request import Request

from runtime.api.agent_server import assistants, crons, runs, store, system, threads
from runtime.api.agent_server.base import PREFIXES, AgentServerApi
from runtime.api.permissions import Scope
from runtime.errors import NotFound

app_name = "agent_server"


class RouteNotFoundApi(AgentServerApi):
    """Unknown Agent Server routes: 404 ``{"detail": "Not Found"}`` (after
    authentication, as /v1 does)."""

    required_scope = Scope.ANY

    def get(self, request: Request, rest: str = "") -> None:
        raise NotFound("Not Found")

    post = put = patch = delete = get


urlpatterns = [
    path("ok", system.OkApi.as_view(), name="ok"),
    path("info", system.InfoApi.as_view(), name="info"),
    *assistants.urlpatterns,
    *threads.urlpatterns,
    *crons.urlpatterns,
    *runs.urlpatterns,
    *store.urlpatterns,
    re_path(
        rf"^(?P<rest>(?:{'|'.join(PREFIXES)})(?:/.*)?)$",
        RouteNotFoundApi.as_view(),
        name="not-found",
    ),
]
