"""The Agent Server's /ok and /info, its auth and its error shape, through LangGraph's
own SDK against a live ASGI server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import NotFoundError

from runtime.services.api_keys import api_key_create
from runtime.services.audit import Actor
from tests.runtime.agent_server.conftest import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes | None = None,
    **headers: str,
) -> tuple[int, dict, object]:
    """One plain HTTP request: status, headers (lower-case names), JSON body."""
    request = urllib.request.Request(
        server.url + path, data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, found, raw = answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        status, found, raw = error.code, error.headers, error.read()
    return status, {k.lower(): v for k, v in found.items()}, json.loads(raw)


def test_ok_and_info_are_public(agent_server: LiveServer) -> None:
    assert call(agent_server, "GET", "/ok")[::2] == (200, {"ok": True})
    status, headers, info = call(agent_server, "GET", "/info")
    assert status == 200
    assert info["version"]
    assert info["flags"]["assistants"] is True
    assert headers["x-request-id"]


def test_an_unknown_route_is_a_404_in_the_agent_server_shape(
    agent_server: LiveServer,
) -> None:
    client = get_sync_client(url=agent_server.url, api_key=agent_server.api_key)
    with pytest.raises(NotFoundError):
        client.http.get("/threads/x/no/such/route")
    status, _, body = call(
        agent_server, "GET", "/assistants/x/y/z", **{"x-api-key": agent_server.api_key}
    )
    assert (status, body) == (404, {"detail": "Not Found"})


def test_credentials_are_required_and_checked(agent_server: LiveServer) -> None:
    assert call(agent_server, "GET", "/threads/x/y")[::2] == (
        401,
        {"detail": "missing or invalid credentials"},
    )
    wrong = {"x-api-key": "not-the-key"}
    assert call(agent_server, "GET", "/threads/x/y", **wrong)[0] == 401
    bearer = {"Authorization": f"Bearer {agent_server.api_key}"}
    assert call(agent_server, "GET", "/threads/x/y", **bearer)[0] == 404


def test_an_api_key_row_works_in_one_header(agent_server: LiveServer) -> None:
    key, secret = api_key_create(actor=Actor(type="user", id="t"), role="operator")
    one = {"x-api-key": f"{key.key_id}:{secret}"}
    assert call(agent_server, "GET", "/threads/x/y", **one)[0] == 404
    bad = {"x-api-key": f"{key.key_id}:wrong"}
    assert call(agent_server, "GET", "/threads/x/y", **bad)[0] == 401


def test_an_oversized_body_is_refused_in_the_agent_server_shape(
    agent_server: LiveServer,
) -> None:
    body = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    status, _, answer = call(
        agent_server,
        "POST",
        "/threads",
        body,
        **{"x-api-key": agent_server.api_key, "content-type": "application/json"},
    )
    assert status == 413
    assert "exceeds" in answer["detail"]


def test_system_assistant_ids_are_langgraphs() -> None:
    from runtime.services.assistants import system_assistant_id

    assert str(system_assistant_id("agent")) == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
