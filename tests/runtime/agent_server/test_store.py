"""The Agent Server's store through LangGraph's own SDK (sync and async) against a
live ASGI server: items, search, namespaces, TTLs, errors, RBAC, and a durable
run whose nodes write to the store."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.conf import settings
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import UnprocessableEntityError

from runtime.models import AuditLog, Job, StoreItem
from runtime.services import runs
from runtime.services.api_keys import api_key_create
from runtime.services.audit import Actor
from tests.runtime.agent_server.conftest import LiveServer, wait_until
from tests.runtime.agent_server.graphs import AGENT_GRAPHS
from tests.runtime.agent_server.test_system import call
from tests.runtime.sample_graphs import TEST_GRAPHS

pytestmark = pytest.mark.django_db(transaction=True)

ITEM_FIELDS = {"namespace", "key", "value", "created_at", "updated_at"}


def sync(server: LiveServer, key: str | None = None) -> Any:
    return get_sync_client(url=server.url, api_key=key or server.api_key)


def send(
    server: LiveServer, method: str, path: str, body: Any = None, key: str | None = None
) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    raw = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.url + path, data=raw, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, text = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()
    return status, json.loads(text) if text else None


def test_items_round_trip_through_the_sync_client(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    client.store.put_item(["users", "alice"], "prefs", {"theme": "dark", "size": 3})
    client.store.put_item(["users", "alice"], "notes", {"text": "hi", "size": 7})
    client.store.put_item(["users", "bob"], "prefs", {"theme": "light", "size": 5})
    client.store.put_item(["docs"], "readme", {"size": 1})

    item = client.store.get_item(["users", "alice"], "prefs")
    assert set(item) == ITEM_FIELDS
    assert (item["namespace"], item["key"], item["value"]) == (
        ["users", "alice"],
        "prefs",
        {"theme": "dark", "size": 3},
    )
    assert item["created_at"] == item["updated_at"]
    assert client.store.get_item(["users", "alice"], "nothing") is None
    assert client.store.get_item(["users"], "prefs") is None

    found = client.store.search_items(["users"], filter={"size": {"$gte": 5}})
    assert {(i["namespace"][1], i["key"]) for i in found["items"]} == {
        ("alice", "notes"),
        ("bob", "prefs"),
    }
    assert all(set(i) == ITEM_FIELDS | {"score"} for i in found["items"])
    assert found["items"][0]["score"] is None
    # newest first, paged
    pages = [client.store.search_items([], limit=3, offset=o)["items"] for o in (0, 3)]
    assert [i["key"] for i in pages[0]] == ["readme", "prefs", "notes"]
    assert [i["key"] for i in pages[1]] == ["prefs"]
    assert client.store.search_items(["users", "bob"], query="x")["items"][0][
        "key"
    ] == ("prefs")

    assert client.store.list_namespaces() == {
        "namespaces": [["docs"], ["users", "alice"], ["users", "bob"]]
    }
    assert client.store.list_namespaces(prefix=["users"], max_depth=1) == {
        "namespaces": [["users"]]
    }
    assert client.store.list_namespaces(suffix=["bob"], limit=5) == {
        "namespaces": [["users", "bob"]]
    }

    client.store.put_item(["users", "alice"], "prefs", {"theme": "light"})
    again = client.store.get_item(["users", "alice"], "prefs")
    assert again["value"] == {"theme": "light"}
    assert again["created_at"] == item["created_at"] < again["updated_at"]
    client.store.delete_item(["users", "alice"], "prefs")
    client.store.delete_item(["users", "alice"], "prefs")  # already gone: 204
    assert client.store.get_item(["users", "alice"], "prefs") is None
    actions = AuditLog.objects.filter(action__startswith="store.")
    assert actions.filter(action="store.put").count() == 5
    assert actions.filter(action="store.delete").count() == 2


def test_the_async_client_sees_the_same_store(agent_server: LiveServer) -> None:
    async def scenario() -> Any:
        client = get_client(url=agent_server.url, api_key=agent_server.api_key)
        await client.store.put_item(["a", "b"], "k", {"v": 1})
        await client.store.put_item(["a", "c"], "k", {"v": 2}, ttl=30)
        got = await client.store.get_item(["a", "b"], "k", refresh_ttl=False)
        found = await client.store.search_items(["a"], filter={"v": 2}, limit=5)
        spaces = await client.store.list_namespaces(prefix=["a"])
        await client.store.delete_item(["a", "b"], "k")
        gone = await client.store.get_item(["a", "b"], "k")
        return got, found, spaces, gone

    got, found, spaces, gone = asyncio.run(scenario())
    assert got["value"] == {"v": 1}
    assert [i["namespace"] for i in found["items"]] == [["a", "c"]]
    assert spaces == {"namespaces": [["a", "c"], ["a", "b"]][::-1]}
    assert gone is None
    assert StoreItem.objects.get(namespace="a.c").ttl_minutes == 30


def test_a_ttl_expires_an_item(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    client.store.put_item(["t"], "short", {"v": 1}, ttl=0.01)  # 0.6 s
    client.store.put_item(["t"], "long", {"v": 2}, ttl=60)
    deadline = time.monotonic() + 60
    # (a read with refresh_ttl would keep it alive)
    while client.store.get_item(["t"], "short", refresh_ttl=False) is not None:
        assert time.monotonic() < deadline, "the item did not expire"
        time.sleep(0.2)
    assert [i["key"] for i in client.store.search_items(["t"])["items"]] == ["long"]
    row = StoreItem.objects.get(key="long")
    before = row.expires_at
    client.store.get_item(["t"], "long")  # refreshes the TTL
    row.refresh_from_db()
    assert row.expires_at > before


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        (
            "PUT",
            "/store/items",
            {"namespace": ["a.b"], "key": "k", "value": {}},
            "periods",
        ),
        ("PUT", "/store/items", {"namespace": [], "key": "k", "value": {}}, "empty"),
        (
            "PUT",
            "/store/items",
            {"namespace": ["langgraph"], "key": "k", "value": {}},
            "langgraph",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "k", "value": [1]},
            "object",
        ),
        ("PUT", "/store/items", {"namespace": ["a"], "key": "k"}, "required"),
        ("PUT", "/store/items", {"namespace": "a", "key": "k", "value": {}}, "list"),
        ("PUT", "/store/items", {"namespace": [1], "key": "k", "value": {}}, "valid"),
        ("PUT", "/store/items", {"namespace": ["a"], "key": 5, "value": {}}, "valid"),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "k", "value": {}, "ttl": -1},
            "0",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a"], "key": "k", "value": {}, "ttl": "x"},
            "valid",
        ),
        (
            "PUT",
            "/store/items",
            {"namespace": ["a" * 1100], "key": "k", "value": {}},
            "1024",
        ),
        ("PUT", "/store/items", [1], "object"),
        ("DELETE", "/store/items", {"namespace": ["a.b"], "key": "k"}, "periods"),
        ("DELETE", "/store/items", {"namespace": ["a"]}, "required"),
        ("POST", "/store/items/search", {"limit": -1}, "0"),
        ("POST", "/store/items/search", {"limit": "ten"}, "valid"),
        ("POST", "/store/items/search", {"filter": [1]}, "object"),
        ("POST", "/store/items/search", {"filter": {"v": {"$in": [1]}}}, "operator"),
        ("POST", "/store/items/search", {"namespace_prefix": ["a.b"]}, "periods"),
        ("POST", "/store/namespaces", {"max_depth": 0}, "1"),
        ("POST", "/store/namespaces", {"prefix": "users"}, "list"),
        ("POST", "/store/namespaces", {"suffix": ["x.y"]}, "periods"),
        ("GET", "/store/items?namespace=a..b&key=k", None, "empty"),
        ("GET", "/store/items?namespace=a", None, "required"),
        ("GET", "/store/items?namespace=a&key=k&refresh_ttl=maybe", None, "valid"),
    ],
)
def test_bad_input_is_a_422_never_a_500(
    agent_server: LiveServer, method: str, path: str, body: Any, detail: str
) -> None:
    StoreItem.objects.all().delete()
    status, answer = send(agent_server, method, path, body, agent_server.api_key)
    assert status == 422, answer
    assert detail in answer["detail"]
    assert not StoreItem.objects.exists()


def test_a_malformed_body_is_a_422(agent_server: LiveServer) -> None:
    status, _, answer = call(
        agent_server,
        "PUT",
        "/store/items",
        b"{nope",
        **{"x-api-key": agent_server.api_key, "content-type": "application/json"},
    )
    assert status == 422
    assert "JSON" in answer["detail"]


def test_the_sdk_refuses_dotted_labels_itself(agent_server: LiveServer) -> None:
    with pytest.raises(ValueError, match="periods"):
        sync(agent_server).store.put_item(["a.b"], "k", {})
    with pytest.raises(UnprocessableEntityError):
        sync(agent_server).store.search_items(["a"], filter={"v": {"$bad": 1}})


ROUTES = [
    ("PUT", "/store/items", {"namespace": ["r"], "key": "k", "value": {"v": 1}}, 204),
    ("GET", "/store/items?namespace=r&key=k", None, 200),
    ("POST", "/store/items/search", {"namespace_prefix": ["r"]}, 200),
    ("POST", "/store/namespaces", {}, 200),
    ("DELETE", "/store/items", {"namespace": ["r"], "key": "k"}, 204),
]


def test_every_store_route_is_for_admins_and_operators(
    agent_server: LiveServer,
) -> None:
    people = Actor(type="user", id="t")
    keys = {}
    for role in ("operator", "worker"):
        key, secret = api_key_create(actor=people, role=role)
        keys[role] = f"{key.key_id}:{secret}"
    for method, path, body, ok in ROUTES:
        assert send(agent_server, method, path, body)[0] == 401, path
        assert send(agent_server, method, path, body, keys["worker"])[0] == 403, path
        for key in (agent_server.api_key, keys["operator"]):
            status, answer = send(agent_server, method, path, body, key)
            assert status == ok, (path, answer)
    put = AuditLog.objects.filter(action="store.put").order_by("id")
    assert [row.actor_role for row in put] == ["admin", "operator"]
    assert not StoreItem.objects.exists()


def test_a_durable_runs_nodes_use_the_store(
    agent_server: LiveServer, settings_override: None
) -> None:
    actor = Actor(type="user", id="t", role="operator")
    for user in ("ann", "ann", "ben"):
        result = runs.job_run(actor=actor, graph="store_remember", input={"user": user})
        job = result.job

        def settled(job: Job = job) -> bool:
            job.refresh_from_db()
            return job.status in ("completed", "failed", "dead")

        wait_until("the run", settled, timeout=120)
        assert job.status == "completed", agent_server.log()
    assert job.result["users"] == ["ann", "ben"]
    client = sync(agent_server)
    assert client.store.get_item(["memories", "ann"], "count")["value"] == {"count": 2}
    assert client.store.get_item(["memories", "ben"], "count")["value"] == {"count": 1}


@pytest.fixture
def settings_override() -> Any:
    """This process starts runs of the live server's graphs."""
    saved = settings.ORIS_GRAPHS
    settings.ORIS_GRAPHS = TEST_GRAPHS | AGENT_GRAPHS
    yield
    settings.ORIS_GRAPHS = saved
