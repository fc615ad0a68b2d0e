"""Crons through LangGraph's SDK against a live server: create (on a thread and
stateless), search, count, update, delete; bad input; roles; and the sweep that
fires due crons as durable runs."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)

from runtime.models import AuditLog, Cron, Run
from runtime.models.agent_server import RUN_FINAL
from runtime.services.api_keys import api_key_create
from runtime.services.assistants import system_assistant_id
from runtime.services.audit import Actor
from runtime.services.crons import CronSpec, crons_fire_due
from runtime.services.threads import thread_ensure
from tests.runtime.agent_server.conftest import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

GRAPH = "echo_steps"


def client(server: LiveServer, key: str | None = None):
    return get_sync_client(url=server.url, api_key=key or server.api_key)


def test_a_cron_on_a_thread_is_created_found_updated_and_deleted(
    agent_server: LiveServer,
) -> None:
    thread_ensure(thread_id="cron-thread")
    sdk = client(agent_server)
    cron = sdk.crons.create_for_thread(
        "cron-thread",
        GRAPH,
        schedule="*/5 * * * *",
        input={"n": 1},
        metadata={"team": "ops"},
        timezone="Europe/Paris",
    )
    assert cron["assistant_id"] == str(system_assistant_id(GRAPH))
    assert cron["thread_id"] == "cron-thread"
    assert cron["schedule"] == "*/5 * * * *"
    assert cron["timezone"] == "Europe/Paris"
    assert cron["payload"]["input"] == {"n": 1}
    assert cron["metadata"] == {"team": "ops"}
    assert cron["enabled"] is True
    next_run = datetime.fromisoformat(cron["next_run_date"])
    assert next_run.minute % 5 == 0
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(minutes=5)

    found = sdk.crons.search(thread_id="cron-thread")
    assert [c["cron_id"] for c in found] == [cron["cron_id"]]
    assert sdk.crons.search(metadata={"team": "other"}) == []
    assert sdk.crons.count(assistant_id=GRAPH) == 1
    assert sdk.crons.search(select=["cron_id", "schedule"]) == [
        {"cron_id": cron["cron_id"], "schedule": "*/5 * * * *"}
    ]

    updated = sdk.crons.update(cron["cron_id"], schedule="0 9 * * 1", enabled=False)
    assert updated["schedule"] == "0 9 * * 1"
    assert updated["enabled"] is False
    assert updated["next_run_date"] is None
    assert sdk.crons.search(enabled=True) == []

    sdk.crons.delete(cron["cron_id"])
    assert sdk.crons.count() == 0
    with pytest.raises(NotFoundError):
        sdk.crons.delete(cron["cron_id"])
    actions = list(
        AuditLog.objects.filter(resource_id=cron["cron_id"]).values_list(
            "action", "actor_role"
        )
    )
    assert sorted(actions) == [
        ("cron.create", "admin"),
        ("cron.delete", "admin"),
        ("cron.update", "admin"),
    ]


def test_a_stateless_cron_through_the_async_client(agent_server: LiveServer) -> None:
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)

    async def create() -> tuple[dict, list[dict]]:
        sdk = get_client(url=agent_server.url, api_key=agent_server.api_key)
        cron = await sdk.crons.create(
            GRAPH, schedule="0 0 * * *", input={"n": 2}, end_time=end
        )
        return cron, await sdk.crons.search()

    cron, found = asyncio.run(create())
    assert cron["thread_id"] is None
    assert cron["on_run_completed"] == "delete"
    assert datetime.fromisoformat(cron["end_time"]) == end
    assert [c["cron_id"] for c in found] == [cron["cron_id"]]


def test_bad_crons_are_refused_and_change_nothing(agent_server: LiveServer) -> None:
    sdk = client(agent_server)
    thread_ensure(thread_id="cron-bad")
    for schedule in ("not a cron", "61 * * * *", "* * * *"):
        with pytest.raises(UnprocessableEntityError):
            sdk.crons.create(GRAPH, schedule=schedule)
    with pytest.raises(UnprocessableEntityError):
        sdk.crons.create(GRAPH, schedule="* * * * *", timezone="Mars/Olympus")
    with pytest.raises(NotFoundError):
        sdk.crons.create("no-such-graph", schedule="* * * * *")
    with pytest.raises(NotFoundError):
        sdk.crons.create_for_thread("no-such-thread", GRAPH, schedule="* * * * *")
    with pytest.raises(UnprocessableEntityError):
        sdk.crons.create(GRAPH, schedule="* * * * *", multitask_strategy="maybe")
    with pytest.raises(NotFoundError):
        sdk.crons.update("00000000-0000-0000-0000-000000000000", enabled=False)
    assert Cron.objects.count() == 0
    assert not AuditLog.objects.filter(action="cron.create", result="success")


def test_roles(agent_server: LiveServer) -> None:
    def key(role: str) -> str:
        row, secret = api_key_create(actor=Actor(type="user", id="t"), role=role)
        return f"{row.key_id}:{secret}"

    operator = client(agent_server, key("operator"))
    worker = client(agent_server, key("worker"))
    cron = operator.crons.create(GRAPH, schedule="0 * * * *")
    assert operator.crons.count() == 1
    for call in (
        lambda: worker.crons.create(GRAPH, schedule="0 * * * *"),
        lambda: worker.crons.search(),
        lambda: worker.crons.count(),
        lambda: worker.crons.update(cron["cron_id"], enabled=False),
        lambda: worker.crons.delete(cron["cron_id"]),
    ):
        with pytest.raises(PermissionDeniedError):
            call()
    anonymous = get_sync_client(url=agent_server.url, api_key=None)
    with pytest.raises(AuthenticationError):
        anonymous.crons.search()
    assert Cron.objects.get().enabled is True


def test_next_dates_follow_the_time_zone_and_stop_at_the_end() -> None:
    at = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    paris = CronSpec("30 2 * * *", "Europe/Paris")
    # 29 March 2026: 02:30 does not exist in Paris (clocks go 02:00 -> 03:00);
    # the firing happens as the clocks jump, at 03:00 CEST, not a day later.
    assert paris.next_after(at) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    summer = paris.next_after(datetime(2026, 6, 1, tzinfo=UTC))
    assert summer == datetime(2026, 6, 1, 0, 30, tzinfo=UTC)  # 02:30 CEST
    ended = CronSpec("0 0 * * *", "", end_time=datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert ended.next_after(datetime(2026, 6, 1, 1, tzinfo=UTC)) is None


def wait_for_run(run_id: object, timeout: float = 90.0) -> Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status in RUN_FINAL:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def test_a_due_cron_starts_a_durable_run_that_the_workers_finish(
    agent_server: LiveServer,
) -> None:
    thread_ensure(thread_id="cron-fires")
    sdk = client(agent_server)
    cron = sdk.crons.create_for_thread(
        "cron-fires", GRAPH, schedule="* * * * *", input={"n": 41}
    )
    due = datetime.fromisoformat(cron["next_run_date"])
    assert crons_fire_due(at=due - timedelta(seconds=1)) == 0  # not yet
    assert crons_fire_due(at=due) == 1
    assert crons_fire_due(at=due) == 0  # that occurrence is done
    run = wait_for_run(Run.objects.get(thread_id="cron-fires").pk)
    assert run.status == Run.Status.SUCCESS, agent_server.log()
    assert sdk.runs.join("cron-fires", str(run.pk)) == {"n": 42}
    found = Cron.objects.get()
    assert found.next_run_date == due + timedelta(minutes=1)
    assert AuditLog.objects.filter(
        action="run.create", actor_id=f"cron:{found.pk}"
    ).exists()


def test_a_stateless_cron_runs_on_a_new_thread_each_time(
    agent_server: LiveServer,
) -> None:
    sdk = client(agent_server)
    cron = sdk.crons.create(
        GRAPH, schedule="*/10 * * * *", input={"n": 1}, on_run_completed="keep"
    )
    due = datetime.fromisoformat(cron["next_run_date"])
    assert crons_fire_due(at=due) == 1
    assert crons_fire_due(at=due + timedelta(minutes=10)) == 1
    runs = list(Run.objects.order_by("created_at"))
    assert len({r.thread_id for r in runs}) == 2
    for run in runs:
        assert wait_for_run(run.pk).status == Run.Status.SUCCESS, agent_server.log()
        assert sdk.runs.join(run.thread_id, str(run.pk)) == {"n": 2}
