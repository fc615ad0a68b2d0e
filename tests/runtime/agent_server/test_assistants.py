"""Assistants of the Agent Server API through LangGraph's own SDK (sync and async)
against a live ASGI server: system assistants, stored and versioned ones, graph
JSON and schemas, RBAC route by route, bad input."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import (
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from runtime import registry
from runtime.api.agent_server import assistants as routes
from runtime.models import Assistant, AuditLog
from runtime.services.assistants import (
    assistant_create,
    assistant_resolve,
    system_assistant_id,
)
from runtime.services.audit import Actor
from tests.runtime.agent_server.conftest import LiveServer
from tests.runtime.agent_server.helpers_threads import (
    call,
    check_rbac,
    served_graphs,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _graphs(settings: object) -> None:
    served_graphs(settings)


def sync(server: LiveServer):  # type: ignore[no-untyped-def]
    return get_sync_client(url=server.url, api_key=server.api_key)


def test_every_registered_graph_is_a_system_assistant(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    names = registry.graph_names()
    found = client.assistants.search(limit=1000)
    by_graph = {a["graph_id"]: a for a in found}
    assert set(by_graph) == set(names)
    review = by_graph["drafts"]
    assert review["assistant_id"] == str(system_assistant_id("drafts"))
    assert (review["name"], review["version"]) == ("drafts", 1)
    assert review["metadata"] == {"created_by": "system"}
    assert client.assistants.get(review["assistant_id"]) == review
    assert client.assistants.count() == len(names)
    assert client.assistants.count(graph_id="drafts") == 1
    only = client.assistants.search(graph_id="drafts", select=["assistant_id"])
    assert only == [{"assistant_id": review["assistant_id"]}]
    named = client.assistants.search(name="draf", metadata={"created_by": "system"})
    assert [a["graph_id"] for a in named] == ["drafts"]
    versions = client.assistants.get_versions(review["assistant_id"])
    assert [v["version"] for v in versions] == [1]


def test_search_pages_and_sorts(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    names = sorted(registry.graph_names())
    first = client.assistants.search(limit=2, sort_by="graph_id", sort_order="asc")
    second = client.assistants.search(
        limit=2, offset=2, sort_by="graph_id", sort_order="asc"
    )
    assert [a["graph_id"] for a in first + second] == names[:4]
    page = client.assistants.search(
        limit=2, sort_by="graph_id", response_format="object"
    )
    assert page["next"] == "2"
    last = client.assistants.search(limit=1000, response_format="object")
    assert last["next"] is None


def test_a_stored_assistant_is_versioned(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    created = client.assistants.create(
        "drafts",
        config={"configurable": {"tone": "dry"}},
        context={"user": "ann"},
        metadata={"team": "a"},
        name="Reviewer",
        description="reviews drafts",
    )
    aid = created["assistant_id"]
    assert (created["version"], created["graph_id"], created["name"]) == (
        1,
        "drafts",
        "Reviewer",
    )
    with pytest.raises(ConflictError):
        client.assistants.create("drafts", assistant_id=aid)
    same = client.assistants.create("echo", assistant_id=aid, if_exists="do_nothing")
    assert same["graph_id"] == "drafts"

    changed = client.assistants.update(
        aid, config={"configurable": {"tone": "warm"}}, metadata={"stage": "b"}
    )
    assert changed["version"] == 2
    assert changed["metadata"] == {"team": "a", "stage": "b"}
    assert changed["context"] == {"user": "ann"}
    versions = client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [2, 1]
    assert (
        client.assistants.get_versions(aid, metadata={"stage": "b"})[0]["version"] == 2
    )

    resolved = assistant_resolve(aid)
    assert (resolved.graph, resolved.config) == (
        "drafts",
        {"configurable": {"tone": "warm"}},
    )
    back = client.assistants.set_latest(aid, 1)
    assert (back["version"], back["config"]) == (1, {"configurable": {"tone": "dry"}})
    assert assistant_resolve(aid).context == {"user": "ann"}
    with pytest.raises(NotFoundError):
        client.assistants.set_latest(aid, 9)

    assert client.assistants.count(metadata={"team": "a"}) == 1
    found = client.assistants.search(graph_id="drafts", sort_by="created_at")
    assert [a["assistant_id"] for a in found][0] == aid  # newest first

    client.assistants.delete(aid)
    with pytest.raises(NotFoundError):
        client.assistants.get(aid)
    actions = set(
        AuditLog.objects.filter(resource_id=aid).values_list("action", flat=True)
    )
    assert actions == {
        "assistant.create",
        "assistant.update",
        "assistant.set_latest",
        "assistant.delete",
    }


def test_graph_schemas_and_subgraphs_async(agent_server: LiveServer) -> None:
    async def scenario() -> None:
        client = get_client(url=agent_server.url, api_key=agent_server.api_key)
        nested = str(system_assistant_id("nested"))
        drawn = await client.assistants.get_graph(nested)
        assert {n["id"] for n in drawn["nodes"]} == {"__start__", "child", "__end__"}
        assert {(e["source"], e["target"]) for e in drawn["edges"]} == {
            ("__start__", "child"),
            ("child", "__end__"),
        }
        xray = await client.assistants.get_graph(nested, xray=True)
        assert any("inner" in n["id"] for n in xray["nodes"])
        schemas = await client.assistants.get_schemas(
            str(system_assistant_id("drafts"))
        )
        assert schemas["graph_id"] == "drafts"
        assert set(schemas["state_schema"]["properties"]) == {"text", "approved"}
        assert "text" in schemas["input_schema"]["properties"]
        assert schemas["config_schema"] == {
            "properties": {},
            "title": "LangGraphConfig",
            "type": "object",
        }
        echo = await client.assistants.get_schemas(
            str(system_assistant_id("echo_steps"))
        )
        assert echo["config_schema"]["properties"] == {
            "configurable": {"$ref": "#/$defs/EchoContext", "default": None}
        }
        context = echo["config_schema"]["$defs"]["EchoContext"]
        assert set(context["properties"]) == {"tone"}  # not the runtime's thread_id
        assert context["required"] == ["tone"]
        assert set(echo["context_schema"]["properties"]) == {"tone", "thread_id"}
        subgraphs = await client.assistants.get_subgraphs(nested)
        assert list(subgraphs) == ["child"]
        assert "text" in subgraphs["child"]["state_schema"]["properties"]
        one = await client.assistants.get_subgraphs(nested, namespace="child")
        assert list(one) == ["child"]
        with pytest.raises(NotFoundError):
            await client.assistants.get_subgraphs(nested, namespace="nope")
        created = await client.assistants.create("nested", name="async one")
        assert (await client.assistants.get(created["assistant_id"]))["name"] == (
            "async one"
        )

    asyncio.run(scenario())


def test_bad_input_is_refused_and_changes_nothing(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    with pytest.raises(UnprocessableEntityError):
        client.assistants.get("drafts")  # a graph name is not an assistant id
    with pytest.raises(NotFoundError):
        client.assistants.get(str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        client.assistants.create("no-such-graph")
    with pytest.raises(ConflictError):
        client.assistants.update(str(system_assistant_id("drafts")), name="x")
    with pytest.raises(ConflictError):
        client.assistants.delete(str(system_assistant_id("drafts")))
    key = agent_server.api_key
    for body in (
        b'{"graph_id": "drafts", "config": [1]}',
        b'{"graph_id": 3}',
        b'{"graph_id": "drafts", "if_exists": "maybe"}',
        b'{"graph_id": "drafts",',
        b"[]",
    ):
        status, answer = call(agent_server, "POST", "/assistants", body, key)
        assert status == 422, (body, answer)
        assert "detail" in answer
    status, _ = call(agent_server, "POST", "/assistants/search", b'{"limit": 0}', key)
    assert status == 422
    status, _ = call(
        agent_server, "POST", "/assistants/search", b'{"sort_by": "x"}', key
    )
    assert status == 422
    status, _ = call(
        agent_server,
        "GET",
        f"/assistants/{system_assistant_id('review')}/graph?xray=maybe",
        key=key,
    )
    assert status == 422
    assert not Assistant.objects.exists()


def test_rbac_route_by_route(agent_server: LiveServer) -> None:
    stored = assistant_create(actor=Actor.system(), graph_id="drafts")
    checked = check_rbac(
        agent_server,
        routes.urlpatterns,
        {"assistant_id": str(stored.assistant_id), "namespace": "child"},
    )
    assert checked >= 4 * 11
