"""What the assistants and threads tests share: plain HTTP calls, personas and a
route-by-route RBAC check."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from django.urls import URLPattern

from runtime.services.api_keys import api_key_create
from runtime.services.audit import Actor
from tests.runtime.agent_server.conftest import LiveServer
from tests.runtime.api.routes import PARAM, routes


def call(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes | None = None,
    key: str | None = None,
) -> tuple[int, Any]:
    """One plain HTTP request (``key``: its x-api-key): status and JSON body."""
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    request = urllib.request.Request(
        server.url + path, data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


def personas(server: LiveServer) -> dict[str, str | None]:
    """An x-api-key per role (``none``: no credentials)."""
    keys: dict[str, str | None] = {"admin": server.api_key, "none": None}
    for role in ("operator", "worker"):
        row, secret = api_key_create(actor=Actor(type="user", id="t"), role=role)
        keys[role] = f"{row.key_id}:{secret}"
    return keys


def check_rbac(
    server: LiveServer, patterns: list[URLPattern], values: dict[str, str]
) -> int:
    """Every method of every route: admin and operator pass RBAC, a worker is
    403, no credentials 401; nothing is a 500. Answers how many were checked."""
    keys = personas(server)
    checked = 0
    for route in routes(patterns):
        path = "/" + PARAM.sub(lambda m: values[m.group(1)], route.route)
        body = b"{}" if route.method in ("post", "patch") else None
        for role, key in keys.items():
            status, answer = call(server, route.method.upper(), path, body, key)
            expected = {"none": {401}, "worker": {403}}.get(role)
            where = f"{route.method.upper()} {path} as {role}: {status} {answer}"
            if expected is None:
                assert status not in (401, 403, 500), where
            else:
                assert status in expected, where
            checked += 1
    return checked


def served_graphs(settings: Any) -> None:
    """The test process registers the graphs the live server serves."""
    from tests.runtime.agent_server.graphs import AGENT_GRAPHS
    from tests.runtime.sample_graphs import TEST_GRAPHS

    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **TEST_GRAPHS, **AGENT_GRAPHS}
