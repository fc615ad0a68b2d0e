"""Threads of the Agent Server API through LangGraph's own SDK (sync and async)
against a live ASGI server and q2 cluster: thread CRUD, status and interrupts from
a real run, state and history, update_state and forks, copy, prune, search, RBAC
route by route, bad input."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import (
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from runtime.api.agent_server import threads as routes
from runtime.models import AuditLog, Checkpoint, Job, Thread
from runtime.services import retention
from runtime.services.audit import Actor
from runtime.services.runs import job_run
from tests.runtime.agent_server.conftest import LiveServer, wait_until
from tests.runtime.agent_server.helpers_threads import (
    call,
    check_rbac,
    served_graphs,
)

pytestmark = pytest.mark.django_db(transaction=True)

SETTLED = {Job.Status.COMPLETED, Job.Status.INTERRUPTED, Job.Status.FAILED}


@pytest.fixture(autouse=True)
def _graphs(settings: object) -> None:
    served_graphs(settings)


def sync(server: LiveServer):  # type: ignore[no-untyped-def]
    return get_sync_client(url=server.url, api_key=server.api_key)


def run_on(thread_id: str, graph: str, input: Any, *, link: bool = True) -> Job:
    """A run of ``graph`` on the thread, through Oris's run service, settled by
    the live server's q2 cluster; ``link``: the thread's row names its job (as
    the Agent Server's runs do)."""
    job_run(actor=Actor.system(), graph=graph, input=input, thread_id=thread_id)
    wait_until(
        f"{thread_id} settles",
        lambda: Job.objects.get(thread_id=thread_id).status in SETTLED,
        timeout=120,
    )
    job = Job.objects.get(thread_id=thread_id)
    if link:
        Thread.objects.filter(pk=thread_id).update(job=job)
    return job


def test_create_get_update_search_count_delete(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    made = client.threads.create(thread_id="t-crud", metadata={"owner": "ann"})
    assert made["thread_id"] == "t-crud"
    assert (made["status"], made["values"], made["interrupts"]) == ("idle", None, {})
    assert made["metadata"] == {"owner": "ann"}
    with pytest.raises(ConflictError):
        client.threads.create(thread_id="t-crud")
    again = client.threads.create(thread_id="t-crud", if_exists="do_nothing")
    assert again["metadata"] == {"owner": "ann"}
    fresh = client.threads.create(graph_id="drafts")
    assert fresh["metadata"] == {"graph_id": "drafts"}

    changed = client.threads.update("t-crud", metadata={"stage": "b"})
    assert changed["metadata"] == {"owner": "ann", "stage": "b"}
    assert client.threads.get("t-crud")["metadata"] == changed["metadata"]

    found = client.threads.search(metadata={"owner": "ann"})
    assert [t["thread_id"] for t in found] == ["t-crud"]
    assert len(client.threads.search(ids=["t-crud", fresh["thread_id"]])) == 2
    assert client.threads.search(status="busy") == []
    picked = client.threads.search(metadata={"graph_id": "drafts"}, select=["status"])
    assert picked == [{"status": "idle"}]
    ordered = client.threads.search(sort_by="thread_id", sort_order="asc")
    assert [t["thread_id"] for t in ordered] == sorted([fresh["thread_id"], "t-crud"])
    assert client.threads.count() == 2
    assert client.threads.count(metadata={"stage": "b"}) == 1

    client.threads.delete("t-crud")
    with pytest.raises(NotFoundError):
        client.threads.get("t-crud")
    actions = set(
        AuditLog.objects.filter(resource_id="t-crud").values_list("action", flat=True)
    )
    assert {"thread.create", "thread.update", "thread.delete"} <= actions


def test_an_interrupted_run_shows_in_the_thread_and_its_state(
    agent_server: LiveServer,
) -> None:
    client = sync(agent_server)
    client.threads.create(thread_id="t-review", metadata={"graph_id": "drafts"})
    run_on("t-review", "drafts", {"text": "hi"})

    thread = client.threads.get("t-review")
    assert thread["status"] == "interrupted"
    assert thread["values"] == {"text": "hi!"}
    ((task_id, interrupts),) = thread["interrupts"].items()
    assert interrupts[0]["value"] == {"question": "ship it?", "text": "hi!"}
    assert len(interrupts[0]["id"]) == 32

    state = client.threads.get_state("t-review")
    assert state["next"] == ["review"]
    assert state["values"] == {"text": "hi!"}
    assert [t["name"] for t in state["tasks"]] == ["review"]
    assert state["tasks"][0]["id"] == task_id
    assert state["tasks"][0]["interrupts"] == interrupts
    assert state["interrupts"] == interrupts
    assert state["checkpoint"]["thread_id"] == "t-review"
    assert state["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint"]["checkpoint_id"] == state["parent_checkpoint_id"]

    history = client.threads.get_history("t-review", limit=10)
    assert history[0]["checkpoint_id"] == state["checkpoint_id"]
    for newer, older in zip(history, history[1:], strict=False):
        assert newer["parent_checkpoint_id"] == older["checkpoint_id"]
    assert history[-1]["parent_checkpoint"] is None
    assert [h["metadata"]["step"] for h in history] == sorted(
        (h["metadata"]["step"] for h in history), reverse=True
    )
    two = client.threads.get_history("t-review", limit=2)
    assert [h["checkpoint_id"] for h in two] == [
        h["checkpoint_id"] for h in history[:2]
    ]
    older = client.threads.get_history("t-review", before=history[0]["checkpoint"])
    assert [h["checkpoint_id"] for h in older] == [
        h["checkpoint_id"] for h in history[1:]
    ]
    loops = client.threads.get_history("t-review", metadata={"source": "loop"})
    assert loops
    assert all(h["metadata"]["source"] == "loop" for h in loops)

    past = history[-1]
    at = client.threads.get_state("t-review", checkpoint_id=past["checkpoint_id"])
    assert at["checkpoint_id"] == past["checkpoint_id"]
    by_post = client.threads.get_state("t-review", checkpoint=past["checkpoint"])
    assert by_post == at
    with pytest.raises(NotFoundError):
        client.threads.get_state("t-review", checkpoint_id="no-such-checkpoint")
    assert client.threads.search(status="interrupted")[0]["thread_id"] == "t-review"
    assert client.threads.search(values={"text": "hi!"})[0]["thread_id"] == "t-review"
    assert client.threads.search(values={"text": "other"}) == []
    assert client.threads.count(values={"text": "hi!"}) == 1


def test_update_state_at_the_head_and_a_fork_from_the_past(
    agent_server: LiveServer,
) -> None:
    client = sync(agent_server)
    client.threads.create(thread_id="t-fork")
    run_on("t-fork", "drafts", {"text": "a"})
    head = client.threads.get_state("t-fork")
    history = client.threads.get_history("t-fork")
    before = client.threads.get("t-fork")["state_updated_at"]

    answer = client.threads.update_state("t-fork", {"approved": True}, as_node="review")
    assert client.threads.get("t-fork")["state_updated_at"] > before
    new_id = answer["checkpoint"]["checkpoint_id"]
    after = client.threads.get_state("t-fork")
    assert after["checkpoint_id"] == new_id
    assert after["parent_checkpoint_id"] == head["checkpoint_id"]
    assert after["values"] == {"text": "a!", "approved": True}
    assert after["next"] == []
    assert client.threads.get("t-fork")["status"] == "interrupted"  # the job's

    first = history[-1]  # the input checkpoint
    fork = client.threads.update_state(
        "t-fork",
        {"text": "forked"},
        as_node="draft",
        checkpoint_id=first["checkpoint_id"],
    )
    forked = client.threads.get_state("t-fork")
    assert forked["checkpoint_id"] == fork["checkpoint"]["checkpoint_id"]
    assert forked["parent_checkpoint_id"] == first["checkpoint_id"]
    assert forked["values"]["text"] == "forked"
    assert forked["next"] == ["review"]
    with pytest.raises(UnprocessableEntityError):
        client.threads.update_state("t-fork", {"text": "x"}, as_node="nope")
    with pytest.raises(NotFoundError):
        client.threads.update_state("t-fork", {"text": "x"}, checkpoint_id="nope")
    audits = AuditLog.objects.filter(action="thread.update_state", resource_id="t-fork")
    assert audits.filter(result="error").count() == 2  # the refused ones
    audits = audits.filter(result="success")
    assert audits.count() == 2
    assert audits.filter(details__from=first["checkpoint_id"]).count() == 1


def test_copy_keeps_the_history_and_delete_removes_everything(
    agent_server: LiveServer,
) -> None:
    client = sync(agent_server)
    client.threads.create(thread_id="t-copy", metadata={"owner": "bo"})
    run_on("t-copy", "drafts", {"text": "c"})
    history = client.threads.get_history("t-copy")

    copy = client.threads.copy("t-copy")
    assert copy["thread_id"] != "t-copy"
    assert copy["metadata"] == {"owner": "bo", "graph_id": "drafts"}
    assert copy["values"] == {"text": "c!"}
    copied = client.threads.get_history(copy["thread_id"])
    assert [h["checkpoint_id"] for h in copied] == [h["checkpoint_id"] for h in history]
    assert [h["values"] for h in copied] == [h["values"] for h in history]

    client.threads.delete("t-copy")
    assert not Job.objects.filter(thread_id="t-copy").exists()
    assert not Checkpoint.objects.filter(thread_id="t-copy").exists()
    assert not Thread.objects.filter(pk="t-copy").exists()
    with pytest.raises(NotFoundError):
        client.threads.get_state("t-copy")
    assert len(client.threads.get_history(copy["thread_id"])) == len(history)
    # The copy's first run continues the copied state: it answers its question.
    answer = client.runs.wait(
        copy["thread_id"], "drafts", command={"resume": True}, if_not_exists="reject"
    )
    assert answer == {"text": "c!", "approved": True}
    assert len(client.threads.get_history(copy["thread_id"])) == len(history) + 1


def test_a_v1_job_is_a_thread_and_prune_deletes(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    run_on("t-v1", "drafts", {"text": "v"}, link=False)
    assert not Thread.objects.filter(pk="t-v1").exists()
    thread = client.threads.get("t-v1")
    assert thread["status"] == "interrupted"
    assert thread["metadata"]["graph_id"] == "drafts"
    assert client.threads.get_state("t-v1")["next"] == ["review"]
    client.threads.update("t-v1", metadata={"seen": True})
    assert Thread.objects.get(pk="t-v1").job is not None
    assert client.threads.get("t-v1")["metadata"]["seen"] is True

    client.threads.create(thread_id="t-prune")
    answer = client.threads.prune(["t-prune", "t-v1", "t-missing"])
    assert answer == {"pruned_count": 2}
    assert not Job.objects.filter(thread_id="t-v1").exists()
    with pytest.raises(NotFoundError):
        client.threads.get("t-prune")


def test_search_and_count_list_v1_jobs_too(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    run_on("t-v1-a", "drafts", {"text": "a"}, link=False)  # interrupted
    client.threads.create(thread_id="t-row-b", metadata={"graph_id": "drafts"})
    client.threads.create(thread_id="t-row-c", metadata={"owner": "cy"})
    assert not Thread.objects.filter(pk="t-v1-a").exists()

    every = client.threads.search(sort_by="thread_id", sort_order="asc")
    assert [t["thread_id"] for t in every] == ["t-row-b", "t-row-c", "t-v1-a"]
    v1 = every[2]
    assert v1["status"] == "interrupted"
    assert v1["metadata"]["graph_id"] == "drafts"
    assert v1["values"] == {"text": "a!"}
    assert client.threads.count() == 3
    drafts = client.threads.search(metadata={"graph_id": "drafts"})
    assert {t["thread_id"] for t in drafts} == {"t-row-b", "t-v1-a"}
    assistant = v1["metadata"]["assistant_id"]
    by_assistant = client.threads.search(metadata={"assistant_id": assistant})
    assert [t["thread_id"] for t in by_assistant] == ["t-v1-a"]
    assert client.threads.search(metadata={"owner": "cy", "graph_id": "drafts"}) == []
    assert [t["thread_id"] for t in client.threads.search(status="interrupted")] == [
        "t-v1-a"
    ]
    assert client.threads.count(status="idle") == 2
    assert client.threads.count(metadata={"graph_id": "drafts"}) == 2
    assert len(client.threads.search(ids=["t-v1-a", "t-row-c"])) == 2
    assert [t["thread_id"] for t in client.threads.search(values={"text": "a!"})] == [
        "t-v1-a"
    ]
    page = client.threads.search(
        sort_by="thread_id", sort_order="desc", limit=1, offset=1
    )
    assert [t["thread_id"] for t in page] == ["t-row-c"]
    # Once changed here it is a thread row: listed once, not twice.
    client.threads.update("t-v1-a", metadata={"seen": True})
    assert client.threads.count() == 3


def test_deleting_a_busy_thread_cancels_its_runs(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    slow = {"until": 100, "delay": 0.1}
    run = client.runs.create("t-busy", "ticks", input=slow, if_not_exists="create")
    queued = client.runs.create("t-busy", "ticks", input=slow)  # enqueued behind
    wait_until(
        "the run runs",
        lambda: client.runs.get("t-busy", run["run_id"])["status"] == "running",
    )
    assert client.threads.get("t-busy")["status"] == "busy"
    client.threads.delete("t-busy")
    with pytest.raises(NotFoundError):
        client.threads.get("t-busy")
    for model in (Thread, Job, Checkpoint):
        assert not model.objects.filter(
            **{"pk" if model is Thread else "thread_id": "t-busy"}
        ).exists()
    audit = AuditLog.objects.get(action="thread.delete", resource_id="t-busy")
    assert set(audit.details["cancelled_runs"]) == {run["run_id"], queued["run_id"]}
    cancelled = AuditLog.objects.filter(action="run.cancel")
    assert set(cancelled.values_list("resource_id", flat=True)) == {
        run["run_id"],
        queued["run_id"],
    }
    # The worker stops at its next fenced write and leaves nothing behind.
    time.sleep(1.0)
    assert not Checkpoint.objects.filter(thread_id="t-busy").exists()
    assert not Job.objects.filter(thread_id="t-busy").exists()
    # The thread id is free again.
    assert client.threads.create(thread_id="t-busy")["status"] == "idle"


def test_thread_ttls_expire_through_the_retention_sweep(
    agent_server: LiveServer,
) -> None:
    client = sync(agent_server)
    before = timezone.now()
    client.threads.create(thread_id="t-ttl", ttl=30)
    client.threads.create(thread_id="t-ttl-map", ttl={"ttl": 90, "strategy": "delete"})
    client.threads.create(thread_id="t-keep")
    run_on("t-ttl", "drafts", {"text": "t"})
    rows = {t.pk: t for t in Thread.objects.all()}
    assert rows["t-ttl"].ttl_minutes == 30
    assert before + timedelta(minutes=30) <= rows["t-ttl"].expires_at
    assert rows["t-ttl"].expires_at <= timezone.now() + timedelta(minutes=30)
    assert rows["t-ttl-map"].ttl_minutes == 90
    assert rows["t-keep"].expires_at is None
    # update replaces the TTL (from now); a plain metadata update keeps it
    client.threads.update("t-keep", metadata={"a": 1}, ttl=10)
    kept = Thread.objects.get(pk="t-keep")
    assert kept.ttl_minutes == 10
    client.threads.update("t-keep", metadata={"b": 2})
    assert Thread.objects.get(pk="t-keep").expires_at == kept.expires_at
    # a copy keeps the TTL, counted from the copy
    copy = client.threads.copy("t-ttl")["thread_id"]
    assert Thread.objects.get(pk=copy).ttl_minutes == 30

    report = retention.prune(now=timezone.now() + timedelta(minutes=20))
    assert report.threads_expired == 1  # t-keep
    assert set(Thread.objects.values_list("pk", flat=True)) == {
        "t-ttl",
        "t-ttl-map",
        copy,
    }
    report = retention.prune(now=timezone.now() + timedelta(minutes=31))
    assert report.threads_expired == 2
    assert list(Thread.objects.values_list("pk", flat=True)) == ["t-ttl-map"]
    assert not Job.objects.filter(thread_id="t-ttl").exists()
    assert not Checkpoint.objects.filter(thread_id__in=["t-ttl", copy]).exists()
    with pytest.raises(NotFoundError):
        client.threads.get("t-ttl")
    expired = AuditLog.objects.filter(action="thread.expire")
    assert set(expired.values_list("resource_id", flat=True)) == {
        "t-ttl",
        "t-keep",
        copy,
    }
    assert {e.actor_type for e in expired} == {"system"}


def test_prune_keep_latest_keeps_the_head(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    seeded = client.threads.create(
        graph_id="drafts",
        supersteps=[{"updates": [{"values": {"text": "s"}, "as_node": "draft"}]}],
    )
    state = client.threads.get_state(seeded["thread_id"])
    assert (state["values"], state["next"]) == ({"text": "s"}, ["review"])
    with pytest.raises(UnprocessableEntityError):
        client.threads.create(
            supersteps=[{"updates": [{"values": {"text": "s"}, "as_node": "draft"}]}]
        )
    client.threads.create(thread_id="t-error")
    run_on("t-error", "fails", {})
    failed = client.threads.get("t-error")
    assert failed["status"] == "error"
    assert failed["error"]
    assert client.threads.search(status="error")[0]["thread_id"] == "t-error"

    client.threads.create(thread_id="t-keep")
    run_on("t-keep", "drafts", {"text": "k"})
    head = client.threads.get_state("t-keep")
    assert len(client.threads.get_history("t-keep")) > 1
    answer = client.threads.prune(["t-keep"], strategy="keep_latest")
    assert answer == {"pruned_count": 1}
    kept = client.threads.get_history("t-keep")
    assert [h["checkpoint_id"] for h in kept] == [head["checkpoint_id"]]
    assert client.threads.get_state("t-keep")["values"] == head["values"]


def test_the_async_client_and_subgraph_state(agent_server: LiveServer) -> None:
    client_thread = "t-nested"

    async def scenario() -> None:
        client = get_client(url=agent_server.url, api_key=agent_server.api_key)
        made = await client.threads.create(thread_id=client_thread)
        assert made["status"] == "idle"
        # the thread's row does not link its job: the job of its id is its job
        await asyncio.to_thread(
            run_on, client_thread, "nested", {"text": "n"}, link=False
        )
        state = await client.threads.get_state(client_thread, subgraphs=True)
        assert state["values"] == {"text": "n?"}
        history = await client.threads.get_history(client_thread)
        assert history[0]["checkpoint_id"] == state["checkpoint_id"]
        found = await client.threads.search(ids=[client_thread])
        assert found[0]["values"] == {"text": "n?"}
        await client.threads.delete(client_thread)
        with pytest.raises(NotFoundError):
            await client.threads.get(client_thread)

    asyncio.run(scenario())


def test_bad_input_is_refused_and_changes_nothing(agent_server: LiveServer) -> None:
    client = sync(agent_server)
    key = agent_server.api_key
    for call_it in (
        lambda: client.threads.get("nope"),
        lambda: client.threads.update("nope", metadata={}),
        lambda: client.threads.delete("nope"),
        lambda: client.threads.copy("nope"),
        lambda: client.threads.get_state("nope"),
        lambda: client.threads.get_history("nope"),
        lambda: client.threads.update_state("nope", {"a": 1}),
    ):
        with pytest.raises(NotFoundError):
            call_it()
    client.threads.create(thread_id="t-bad")
    with pytest.raises(UnprocessableEntityError):
        client.threads.update_state("t-bad", {"a": 1})  # no graph yet
    assert client.threads.get_state("t-bad")["values"] == {}
    assert client.threads.get_history("t-bad") == []
    for path, body in (
        ("/threads", b'{"metadata": [1]}'),
        ("/threads", b'{"thread_id": "x", "ttl": -5}'),
        ("/threads", b'{"thread_id": "x", "ttl": "soon"}'),
        ("/threads", b'{"thread_id": "x", "ttl": true}'),
        ("/threads", b'{"thread_id": "x", "ttl": 1e12}'),
        ("/threads", b'{"thread_id": "x", "ttl": {"ttl": 5, "strategy": "keep"}}'),
        ("/threads", b'{"thread_id": "x",'),
        ("/threads", b'{"thread_id": "x", "if_exists": "maybe"}'),
        ("/threads", b'{"thread_id": "' + b"x" * 300 + b'"}'),
        ("/threads/search", b'{"status": "sleeping"}'),
        ("/threads/search", b'{"limit": -1}'),
        ("/threads/prune", b'{"thread_ids": "t-bad"}'),
        ("/threads/t-bad/history", b'{"before": 5}'),
        ("/threads/t-bad/state/checkpoint", b"{}"),
    ):
        status, answer = call(agent_server, "POST", path, body, key)
        assert status == 422, (path, body, answer)
        assert "detail" in answer
    status, _ = call(agent_server, "PATCH", "/threads/t-bad", b'{"metadata": 3}', key)
    assert status == 422
    body = b'{"metadata": {"a": 1}, "ttl": 0}'
    status, _ = call(agent_server, "PATCH", "/threads/t-bad", body, key)
    assert status == 422
    assert Thread.objects.get(pk="t-bad").expires_at is None
    assert list(Thread.objects.values_list("pk", flat=True)) == ["t-bad"]
    assert Thread.objects.get(pk="t-bad").metadata == {}


def test_rbac_route_by_route(agent_server: LiveServer) -> None:
    checked = check_rbac(
        agent_server,
        routes.urlpatterns,
        {"thread_id": "t-rbac", "checkpoint_id": "c-1"},
    )
    assert checked >= 4 * 12
