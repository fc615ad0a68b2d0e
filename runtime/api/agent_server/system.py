"""``GET /ok`` and ``GET /info``: the server is up, and what it serves."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from runtime.api.agent_server.base import AgentServerApi
from runtime.api.permissions import Scope


@cache  # a lookup parses the package's metadata files: most of a request's CPU
def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


class OkApi(AgentServerApi):
    """Liveness, as LangGraph's clients probe it. Public: it says nothing else."""

    required_scope = Scope.ANY
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes: list[type] = []

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class InfoApi(OkApi):
    """The server's version and the features it serves (agent-chat-ui reads it to
    decide that the server is reachable). Public, like /v1's OpenAPI document."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "version": _version("oris"),
                "langgraph_py_version": _version("langgraph"),
                "flags": {"assistants": True, "crons": True, "langsmith": False},
                "host": {"kind": "oris", "project_id": None, "revision_id": None},
            }
        )
