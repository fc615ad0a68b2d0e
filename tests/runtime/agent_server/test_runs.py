"""The Agent Server's runs through LangGraph's own SDK (sync and async) and
RemoteGraph against a live ASGI server and q2 cluster: streams checked event by
event, waits, joins, resumes, time travel, cancels and multitask strategies."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from django.utils import timezone
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from runtime.models import (
    AuditLog,
    Checkpoint,
    Interrupt,
    Lease,
    Run,
    RunEvent,
    Thread,
)
from runtime.services import reaper
from runtime.services.api_keys import api_key_create
from runtime.services.audit import Actor
from tests.runtime.agent_server.conftest import LiveServer, wait_until


def call(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes | None = None,
    **headers: str,
) -> tuple[int, dict, object]:
    """One plain request; an empty answer (202, 204) has the body ``None``."""
    answer = httpx.request(
        method, server.url + path, content=body, headers=headers, timeout=60
    )
    return (
        answer.status_code,
        dict(answer.headers),
        (answer.json() if answer.content.strip() else None),
    )


pytestmark = pytest.mark.django_db(transaction=True)


def sdk(server: LiveServer) -> Any:
    return get_sync_client(url=server.url, api_key=server.api_key, timeout=60)


def new_thread(server: LiveServer) -> str:
    """A thread the runs create (``if_not_exists``): no threads endpoint needed."""
    return str(uuid.uuid4())


def hi(text: str = "hi there") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def run_status(run_id: str) -> str | None:
    return Run.objects.filter(pk=run_id).values_list("status", flat=True).first()


def test_a_streamed_chat_run_event_by_event(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    created: list[Any] = []
    parts = list(
        client.runs.stream(
            thread,
            "chat",
            input=hi(),
            stream_mode=["values", "updates", "messages-tuple", "custom"],
            if_not_exists="create",
            on_run_created=created.append,
        )
    )
    names = [p.event for p in parts]
    assert names[0] == "metadata", names
    run_id = parts[0].data["run_id"]
    assert parts[0].data == {"run_id": run_id, "attempt": 1}
    assert created
    assert str(created[0]["run_id"]) == run_id
    assert names[1:3] == ["values", "custom"], names
    assert parts[1].data["messages"][0]["type"] == "human"
    assert parts[1].data["messages"][0]["content"] == "hi there"
    assert parts[2].data == {"stage": "respond", "text": "hi there"}
    tokens = [p for p in parts if p.event == "messages"]
    assert len(tokens) >= 3
    chunk, meta = tokens[0].data
    assert chunk["type"] == "AIMessageChunk"
    assert meta["langgraph_node"] == "respond"
    assert meta["graph_id"] == "chat"
    assert meta["thread_id"] == thread
    assert "".join(t.data[0]["content"] for t in tokens) == "echo: hi there"
    assert tokens[-1].data[0]["chunk_position"] == "last"
    assert names[-2:] == ["updates", "values"], names
    reply = parts[-2].data["respond"]["messages"][0]
    assert (reply["type"], reply["content"]) == ("ai", "echo: hi there")
    assert [m["type"] for m in parts[-1].data["messages"]] == ["human", "ai"]
    ids = [int(p.id) for p in parts]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    run = client.runs.get(thread, run_id)
    assert run["status"] == "success"
    assert run["thread_id"] == thread
    assert run["assistant_id"]
    assert AuditLog.objects.filter(action="run.create", resource_id=run_id).exists()


def test_the_events_mode_streams_astream_events(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    parts = list(
        client.runs.stream(
            thread,
            "chat",
            input=hi("ev"),
            stream_mode=["events", "updates"],
            if_not_exists="create",
        )
    )
    names = [p.event for p in parts]
    assert names[0] == "metadata"
    assert set(names[1:]) == {"events", "updates"}, names
    assert "end" not in names  # as LangGraph's server: the stream just closes
    events = [p.data for p in parts if p.event == "events"]
    kinds = [(e["event"], e["name"]) for e in events]
    assert kinds[0] == ("on_chain_start", "LangGraph")
    assert ("on_chain_start", "respond") in kinds
    assert events[0]["data"]["input"]["messages"][0]["content"] == "ev"
    assert kinds[-1] == ("on_chain_end", "LangGraph")
    assert ("on_chain_stream", "respond") in kinds
    tokens = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(t["data"]["chunk"]["content"] for t in tokens) == "echo: ev"
    assert tokens[0]["data"]["chunk"]["type"] == "AIMessageChunk"
    assert tokens[0]["metadata"]["langgraph_node"] == "respond"
    assert tokens[0]["metadata"]["thread_id"] == thread
    root = events[0]["run_id"]
    assert root in tokens[0]["parent_ids"]
    assert events[-1]["data"]["output"]["messages"][-1]["content"] == "echo: ev"
    # the updates come in their place among the events: after the node's end
    node_end = names.index("updates")
    assert parts[node_end - 1].data["event"] == "on_chain_end"
    assert parts[node_end - 1].data["name"] == "respond"
    run_id = parts[0].data["run_id"]
    replay = list(client.runs.join_stream(thread, run_id, last_event_id="-1"))
    assert [p.event for p in replay] == names


def test_a_threads_next_run_is_an_attempt_of_its_own_kind(
    agent_server: LiveServer,
) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    client.runs.wait(thread, "review", input={"draft": "a"}, if_not_exists="create")
    client.runs.wait(thread, "review", command={"resume": "ok"})
    client.runs.wait(thread, "review", input={"draft": "b"})
    runs = Run.objects.filter(thread_id=thread).order_by("created_at")
    kinds = [run.attempt.kind for run in runs.select_related("attempt")]
    assert kinds == ["run", "resume", "next_run"]


def test_legacy_messages_mode_and_subgraph_names(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    parts = list(
        client.runs.stream(
            thread,
            "chat",
            input=hi("yo"),
            stream_mode="messages",
            if_not_exists="create",
        )
    )
    names = [p.event for p in parts]
    assert names[0] == "metadata"
    assert names[1] == "messages/metadata", names
    partial = [p for p in parts if p.event == "messages/partial"]
    assert partial[-1].data[0]["content"] == "echo: yo"
    assert "values" not in names  # recorded for joins, not sent unasked


def test_an_interrupt_resumed_with_command_async(agent_server: LiveServer) -> None:
    thread = str(uuid.uuid4())

    def aclient() -> Any:  # one per event loop
        return get_client(url=agent_server.url, api_key=agent_server.api_key)

    async def pause() -> Any:
        client = aclient()
        return await client.runs.wait(
            thread, "review", input={"draft": "essay"}, if_not_exists="create"
        )

    async def resume() -> tuple[list[Any], list[Any]]:
        client = aclient()
        parts = [
            p
            async for p in client.runs.stream(
                thread, "review", command={"resume": "yes"}, stream_mode="updates"
            )
        ]
        return parts, await client.runs.list(thread)

    paused = asyncio.run(pause())
    assert paused["draft"] == "draft of essay"
    [asked] = paused["__interrupt__"]
    assert asked["value"] == {"question": "approve?", "draft": "draft of essay"}
    pending = Interrupt.objects.get(job__thread_id=thread)
    assert pending.status == "pending"  # in the console's inbox too
    assert asked["id"] == pending.graph_interrupt_id
    parts, runs = asyncio.run(resume())
    assert parts[-1].event == "updates"
    assert parts[-1].data == {"review": {"verdict": "yes", "log": ["review"]}}
    pending.refresh_from_db()
    assert (pending.status, pending.resume_value) == ("resumed", "yes")
    assert [r["status"] for r in runs] == ["success", "interrupted"]


def test_a_run_context_reaches_the_nodes_runtime(agent_server: LiveServer) -> None:
    client = sdk(agent_server)
    assistant = client.assistants.create("greets", context={"lang": "fr"})
    out = client.runs.wait(
        new_thread(agent_server),
        assistant["assistant_id"],
        input={},
        context={"user": "ada"},
        if_not_exists="create",
    )
    assert out["log"] == ["fr: hi ada"]  # the assistant's context, then the run's
    out = client.runs.wait(
        new_thread(agent_server), "greets", input={}, if_not_exists="create"
    )
    assert out["log"] == ["?: hi ?"]


def test_time_travel_from_a_checkpoint(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    first = client.runs.wait(
        thread, "ticks", input={"until": 2, "delay": 0}, if_not_exists="create"
    )
    assert first["n"] == 2
    assert first["log"] == ["tick 1", "tick 2"]
    after_one = [
        c.checkpoint_id
        for c in Checkpoint.objects.filter(thread_id=thread, checkpoint_ns="")
        if c.metadata.get("step") == 1
    ]
    assert after_one
    again = client.runs.wait(thread, "ticks", input=None, checkpoint_id=after_one[0])
    assert again["n"] == 2
    assert again["log"] == ["tick 1", "tick 2"]
    with pytest.raises(NotFoundError):
        client.runs.create(thread, "ticks", checkpoint_id="no-such-checkpoint")


def test_a_background_run_joined_and_rejoined(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    run = client.runs.create(
        thread,
        "ticks",
        input={"until": 3, "delay": 0.05},
        stream_mode=["values", "updates"],
        if_not_exists="create",
    )
    assert run["status"] == "pending"
    assert client.runs.join(thread, run["run_id"])["n"] == 3
    everything = list(
        client.runs.join_stream(thread, run["run_id"], last_event_id="-1")
    )
    names = [p.event for p in everything]
    assert names[0] == "metadata"
    assert names.count("updates") == 3, names
    cut = everything[2].id
    rest = list(client.runs.join_stream(thread, run["run_id"], last_event_id=cut))
    assert [p.id for p in rest] == [p.id for p in everything[3:]]
    # Without Last-Event-ID only live events: a finished run's stream is empty.
    assert list(client.runs.join_stream(thread, run["run_id"])) == []
    stored = RunEvent.objects.filter(run_id=run["run_id"]).count()
    assert stored == len(everything)


def _running(client: Any, thread: str, run_id: str) -> None:
    wait_until(
        "the run to start",
        lambda: client.runs.get(thread, run_id)["status"] == "running",
    )


def test_cancel_interrupts_or_rolls_back(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    slow = {"until": 100, "delay": 0.1}
    run = client.runs.create(thread, "ticks", input=slow, if_not_exists="create")
    _running(client, thread, run["run_id"])
    client.runs.cancel(thread, run["run_id"], wait=True)
    assert client.runs.get(thread, run["run_id"])["status"] == "interrupted"
    with pytest.raises(NotFoundError):
        client.runs.cancel(thread, run["run_id"])
    assert AuditLog.objects.filter(
        action="run.cancel", resource_id=run["run_id"]
    ).exists()
    # The thread runs again after a cancel, from where the run stopped.
    again = client.runs.wait(thread, "ticks", input={"until": 1, "delay": 0})
    assert again["n"] >= 1

    other = new_thread(agent_server)
    run = client.runs.create(other, "ticks", input=slow, if_not_exists="create")
    _running(client, other, run["run_id"])
    client.runs.cancel(other, run["run_id"], action="rollback")
    with pytest.raises(NotFoundError):
        client.runs.get(other, run["run_id"])
    assert not Checkpoint.objects.filter(thread_id=other).exists()
    assert AuditLog.objects.filter(action="run.rollback").exists()


def test_multitask_strategies(agent_server: LiveServer) -> None:
    client = sdk(agent_server)
    slow = {"until": 100, "delay": 0.1}

    def busy() -> tuple[str, str]:
        thread = new_thread(agent_server)
        run = client.runs.create(thread, "ticks", input=slow, if_not_exists="create")
        _running(client, thread, run["run_id"])
        return thread, run["run_id"]

    thread, first = busy()
    with pytest.raises(ConflictError):
        client.runs.create(thread, "ticks", input=slow, multitask_strategy="reject")
    # enqueue: waits for the active run, then starts (the worker's finish)
    queued = client.runs.create(
        thread, "ticks", input={"until": 1}, multitask_strategy="enqueue"
    )
    assert queued["status"] == "pending"
    assert Run.objects.get(pk=queued["run_id"]).attempt_id is None
    client.runs.cancel(thread, first)
    assert client.runs.join(thread, queued["run_id"])["n"] >= 1
    assert run_status(queued["run_id"]) == "success"

    # interrupt: the active run ends interrupted, the new one continues
    thread, first = busy()
    second = client.runs.create(
        thread, "ticks", input={"until": 1, "delay": 0}, multitask_strategy="interrupt"
    )
    client.runs.join(thread, second["run_id"])
    assert run_status(first) == "interrupted"
    assert run_status(second["run_id"]) == "success"

    # rollback: the active run is deleted with its checkpoints
    thread, first = busy()
    second = client.runs.create(
        thread, "ticks", input={"until": 1, "delay": 0}, multitask_strategy="rollback"
    )
    out = client.runs.join(thread, second["run_id"])
    assert out["log"] == ["tick 1"]  # nothing of the rolled-back run is left
    assert run_status(first) is None


def test_a_failed_run_and_bad_requests(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    with pytest.raises(Exception, match="ValueError: boom"):  # the SDK's way
        client.runs.wait(thread, "fails", input={}, if_not_exists="create")
    key = {"x-api-key": agent_server.api_key, "Content-Type": "application/json"}
    body = json.dumps({"assistant_id": "fails", "input": {}}).encode()
    status, _, out = call(
        agent_server, "POST", f"/threads/{thread}/runs/wait", body, **key
    )
    assert status == 200
    assert out == {"__error__": {"error": "ValueError", "message": "boom"}}
    parts = list(client.runs.stream(thread, "fails", input={}))
    assert (parts[-1].event, parts[-1].data["message"]) == ("error", "boom")
    assert [r["status"] for r in client.runs.list(thread)] == ["error"] * 3
    with pytest.raises(NotFoundError):
        client.runs.create(str(uuid.uuid4()), "chat", input=hi())
    with pytest.raises(NotFoundError):
        client.runs.create(thread, "no-such-graph", input={})
    with pytest.raises(UnprocessableEntityError):
        client.runs.create(thread, "fails", input={}, stream_mode="nope")
    with pytest.raises(UnprocessableEntityError):
        client.runs.create(thread, "fails", input={"a": 1}, command={"resume": 1})
    with pytest.raises(ConflictError):  # a thread keeps its graph
        client.runs.create(thread, "chat", input=hi())
    for path, body in [
        (f"/threads/{thread}/runs", b"[1]"),
        (f"/threads/{thread}/runs", b"{"),
        (f"/threads/{thread}/runs", b'{"assistant_id": "fails", "after_seconds": -1}'),
        (f"/threads/{thread}/runs", b'{"assistant_id": "fails", "webhook": "ftp://x"}'),
        (f"/threads/{thread}/runs", b'{"assistant_id": "fails", "command": {"x": 1}}'),
        (f"/threads/{thread}/runs/not-a-uuid/cancel", b""),
        ("/runs/batch", b"{}"),
        ("/runs/cancel", b"{}"),
    ]:
        status, _, answer = call(agent_server, "POST", path, body, **key)
        assert status == 422, (path, status, answer)
        assert answer["detail"]
    assert call(agent_server, "GET", f"/threads/{uuid.uuid4()}/runs", **key)[0] == 404


def test_stateless_runs_and_batch(agent_server: LiveServer) -> None:
    client = sdk(agent_server)
    out = client.runs.wait(None, "ticks", input={"n": 4, "until": 5, "delay": 0})
    assert (out["n"], out["log"]) == (5, ["tick 5"])
    parts = list(client.runs.stream(None, "ticks", input={"until": 1, "delay": 0}))
    assert [p.event for p in parts] == ["metadata", "values", "values"]
    wait_until("stateless threads to be deleted", lambda: not Thread.objects.exists())
    runs = client.runs.create_batch(
        [
            {"assistant_id": "ticks", "input": {"until": 1, "delay": 0}},
            {
                "assistant_id": "ticks",
                "input": {"until": 1, "delay": 0},
                "on_completion": "keep",
            },
        ]
    )
    assert [r["status"] for r in runs] == ["pending", "pending"]
    wait_until("the kept batch run", lambda: run_status(runs[1]["run_id"]) == "success")
    wait_until("the discarded thread", lambda: run_status(runs[0]["run_id"]) is None)


def test_remote_graph_invoke_and_stream(agent_server: LiveServer) -> None:
    from langgraph.pregel.remote import RemoteGraph

    remote = RemoteGraph("chat", url=agent_server.url, api_key=agent_server.api_key)
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    out = remote.invoke(hi("remote"), config)
    assert [m["content"] for m in out["messages"]] == ["remote", "echo: remote"]
    chunks = list(remote.stream(hi("again"), config, stream_mode="updates"))
    assert chunks[-1]["respond"]["messages"][0]["content"] == "echo: again"
    # Its state and history come from the thread's checkpoints.
    state = remote.get_state(config)
    contents = [m["content"] for m in state.values["messages"]]
    assert contents == ["remote", "echo: remote", "again", "echo: again"]
    assert state.next == ()
    history = list(remote.get_state_history(config))
    assert history[0].values == state.values
    assert history[-1].metadata["source"] == "input"
    assert remote.invoke(hi("no thread"))["messages"][-1]["content"] == (
        "echo: no thread"
    )


def test_sse_framing_headers_and_wait_location(agent_server: LiveServer) -> None:
    thread = new_thread(agent_server)
    body = json.dumps(
        {
            "assistant_id": "ticks",
            "input": {"until": 1, "delay": 0},
            "if_not_exists": "create",
        }
    )
    headers = {"x-api-key": agent_server.api_key, "Content-Type": "application/json"}
    with httpx.stream(
        "POST",
        f"{agent_server.url}/threads/{thread}/runs/stream",
        content=body,
        headers=headers,
        timeout=60,
    ) as answer:
        raw = answer.read().decode()
    assert answer.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert answer.headers["cache-control"] == "no-store"
    run_id = answer.headers["content-location"].rsplit("/", 1)[1]
    assert answer.headers["content-location"] == f"/threads/{thread}/runs/{run_id}"
    assert answer.headers["location"] == f"/threads/{thread}/runs/{run_id}/stream"
    assert raw.startswith(
        f'event: metadata\r\ndata: {{"run_id":"{run_id}","attempt":1}}\r\nid: 1\r\n\r\n'
    )
    waited = httpx.post(
        f"{agent_server.url}/threads/{thread}/runs/wait",
        content=json.dumps(
            {"assistant_id": "ticks", "input": {"n": 7, "until": 8, "delay": 0}}
        ),
        headers=headers,
        timeout=60,
    )
    assert waited.json()["n"] == 8
    assert waited.headers["location"].endswith("/join")


TICK = b'{"assistant_id": "ticks", "input": {"until": 1, "delay": 0}}'


def test_rbac_route_by_route(agent_server: LiveServer) -> None:
    thread = new_thread(agent_server)
    run = sdk(agent_server).runs.create(
        thread, "ticks", input={"until": 1, "delay": 0}, if_not_exists="create"
    )
    sdk(agent_server).runs.join(thread, run["run_id"])
    base = f"/threads/{thread}/runs"
    routes = [
        ("GET", base, None),
        ("POST", base, TICK),
        ("GET", f"{base}/{run['run_id']}", None),
        ("GET", f"{base}/{run['run_id']}/join", None),
        ("POST", "/runs/wait", TICK),
        ("GET", f"{base}/{run['run_id']}/stream", None),
        ("POST", "/runs/cancel", b'{"status": "pending"}'),
    ]
    keys = {}
    for role in ("operator", "worker"):
        key, secret = api_key_create(actor=Actor(type="user", id="t"), role=role)
        keys[role] = f"{key.key_id}:{secret}"
    for method, path, body in routes:
        json_type = {"Content-Type": "application/json"}
        for who, expected in [
            (agent_server.api_key, (200, 204)),
            (keys["operator"], (200, 204)),
            (keys["worker"], (403,)),
        ]:
            status = call(
                agent_server, method, path, body, **json_type, **{"x-api-key": who}
            )[0]
            assert status in expected, (method, path, status)
        assert call(agent_server, method, path, body, **json_type)[0] == 401


def test_a_stream_continues_after_its_worker_is_killed(
    agent_server: LiveServer, tmp_path: Path
) -> None:
    """The worker is SIGKILLed mid-run; once its lease expires (the clock moved
    by expiring it in the database) the reaper requeues the attempt, another
    worker takes it over, and the same stream goes on to the end."""
    client, thread = sdk(agent_server), new_thread(agent_server)
    marker = tmp_path / "killed"
    parts: list[Any] = []

    def expire_and_reap() -> None:
        wait_until("the worker to die", marker.exists, timeout=120)
        wait_until("its orphaned lease", Lease.objects.exists)
        Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert reaper.reap() == 1

    reaping = threading.Thread(target=expire_and_reap)
    reaping.start()
    for part in client.runs.stream(
        thread,
        "crashy",
        input={"marker": str(marker)},
        stream_mode=["custom", "updates"],
        if_not_exists="create",
    ):
        parts.append(part)
    reaping.join(timeout=120)
    names = [p.event for p in parts]
    metadata = [p.data["attempt"] for p in parts if p.event == "metadata"]
    assert metadata == [1, 2], names
    assert names.count("custom") >= 2, names  # "first" before the kill, "second"
    assert parts[-1].event == "updates"
    assert parts[-1].data == {"second": {"log": ["second"]}}
    ids = [int(p.id) for p in parts]
    assert ids == sorted(set(ids))
    run = client.runs.list(thread)[0]
    assert run["status"] == "success"
    assert client.runs.join(thread, run["run_id"])["log"] == ["first", "second"]


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        size = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(size)))
        self.send_response(200 if len(self.received) > 1 else 503)  # one retry
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_delayed_run_and_its_webhook(agent_server: LiveServer) -> None:
    client, thread = sdk(agent_server), new_thread(agent_server)
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        run = client.runs.create(
            thread,
            "ticks",
            input={"until": 1, "delay": 0},
            after_seconds=1,
            webhook=f"http://127.0.0.1:{hook.server_port}/done",
            if_not_exists="create",
        )
        attempt = Run.objects.get(pk=run["run_id"]).attempt
        assert attempt.status == "retry_backoff"  # not claimable before its time
        assert attempt.retry_at >= timezone.now() + timedelta(seconds=0.5)
        assert client.runs.join(thread, run["run_id"])["n"] == 1
        wait_until("the webhook's retry", lambda: len(_Hook.received) >= 2)
    finally:
        hook.shutdown()
    first, second = _Hook.received[:2]
    assert first == second  # the same body, sent again after the 503
    assert (second["run_id"], second["status"]) == (run["run_id"], "success")
    assert second["values"]["log"] == ["tick 1"]


def test_a_stream_client_going_away_cancels_its_run(agent_server: LiveServer) -> None:
    """``on_disconnect="cancel"``: Django's ASGI handler cancels the stream when
    the client disconnects, and the run is cancelled with it."""
    thread = new_thread(agent_server)
    body = {
        "assistant_id": "ticks",
        "input": {"until": 100, "delay": 0.1},
        "stream_mode": ["updates"],
        "on_disconnect": "cancel",
        "if_not_exists": "create",
    }
    headers = {"x-api-key": agent_server.api_key}
    with httpx.stream(
        "POST",
        f"{agent_server.url}/threads/{thread}/runs/stream",
        json=body,
        headers=headers,
        timeout=60,
    ) as answer:
        run_id = answer.headers["content-location"].rsplit("/", 1)[1]
        for line in answer.iter_lines():
            if line.startswith("event: updates"):
                break  # the run is going: hang up
    wait_until("the run to be cancelled", lambda: run_status(run_id) == "interrupted")
    assert AuditLog.objects.filter(action="run.cancel", resource_id=run_id).exists()
