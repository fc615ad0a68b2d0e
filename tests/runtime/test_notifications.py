"""Run waits and streams woken by PostgreSQL's NOTIFY (``services/notifications``):
a notification wakes a waiting ``runs.wait`` or stream at once, and a missed one
still ends the wait by the fallback look. Counts of looks, never timings: the
fallback is set far beyond the test's own limit where a notification must do it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from runtime.api.agent_server import runs as runs_api
from runtime.models import Run, RunEvent
from runtime.services import agent_runs, notifications
from runtime.services.audit import Actor

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ECHO = {"echo_steps": "tests.runtime.agent_server.graphs:build_echo_steps"}
NEVER = 3600.0  # a fallback no test waits for


@pytest.fixture(autouse=True)
def _hub(settings: Any) -> Iterator[None]:
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **ECHO}
    settings.ORIS_Q_LISTEN = True
    yield
    notifications.hub_stop()  # its connection would keep the test database open


def _pending_run() -> Run:
    return agent_runs.run_create(
        actor=Actor.system(),
        assistant_id="echo_steps",
        request={"input": {"n": 1}, "stream_mode": ["values"]},
        thread_id=None,
    )


def _finish(run: Run, answer: Any = None) -> None:
    """What a worker's last writes do: the final values (``answer``, or
    ``{"n": 2}``) and the status, in one transaction (one notification), from
    another connection."""
    try:
        with transaction.atomic():
            RunEvent.objects.create(
                run=run,
                seq=2,
                event="values",
                data=json.dumps(answer or {"n": 2}, ensure_ascii=False),
                created_at=timezone.now(),
            )
            Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCESS)
    finally:
        connection.close()


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    looks: list[int] = []
    original: Callable[..., Any] = getattr(runs_api, name)

    def look(*args: Any) -> Any:
        looks.append(1)
        return original(*args)

    monkeypatch.setattr(runs_api, name, look)
    return looks


async def _read(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([part async for part in stream])


async def _once_waiting(
    looks: list[int], run: Run, read: Any, *, before: int = 1
) -> bytes:
    """Reads ``read`` to its end, finishing the run once it waits after
    ``before`` looks."""
    hub = notifications.hub()
    assert hub is not None
    assert await asyncio.to_thread(hub.up.wait, 30)
    reading = asyncio.create_task(read)
    for _ in range(3000):
        if len(looks) >= before:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert len(looks) == before
    await asyncio.to_thread(_finish, run)
    return await asyncio.wait_for(reading, 60)


def test_a_notification_wakes_a_waiting_run_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", NEVER)
    looks = _counting(monkeypatch, "_finished")
    run = _pending_run()
    body = asyncio.run(_once_waiting(looks, run, _read(runs_api.outcome(run.pk))))
    assert json.loads(body) == {"n": 2}
    # the first look; the NOTIFY said the run was over: its output, no look
    assert len(looks) == 1


def test_a_notification_wakes_a_waiting_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", NEVER)
    looks = _counting(monkeypatch, "_poll")
    run = _pending_run()
    stream = runs_api.tail(run.pk, after=0, modes=["values"])
    # the first look reads the metadata event, the second one finds nothing
    body = asyncio.run(_once_waiting(looks, run, _read(stream), before=2)).decode()
    assert body.count("event: metadata") == 1
    assert 'data: {"n": 2}' in body
    # then the one the NOTIFY asked for (the values, the run over), and the
    # last one, which finds nothing more
    assert len(looks) == 4, len(looks)


def test_a_missed_notification_ends_the_wait_by_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", 0.2)
    monkeypatch.setattr(notifications.Hub, "wake", lambda self, run_id: None)
    looks = _counting(monkeypatch, "_finished")
    run = _pending_run()
    body = asyncio.run(_once_waiting(looks, run, _read(runs_api.outcome(run.pk))))
    assert json.loads(body) == {"n": 2}
    # woken by no notification: a look every 0.2 s, not every 5 ms
    assert 2 <= len(looks) <= 20, len(looks)


def test_a_rolled_back_write_notifies_nobody() -> None:
    """Notifications arrive in commit order: once a later committed change of
    another run is heard, a rolled-back one would have been heard before it."""
    rolled_back, committed = _pending_run(), _pending_run()
    hub = notifications.hub()
    assert hub is not None
    assert hub.up.wait(30)
    heard: list[str] = []
    for run in (rolled_back, committed):
        hub.add(str(run.pk), _Recorder(heard, str(run.pk)))  # type: ignore[arg-type]
    with transaction.atomic():
        Run.objects.filter(pk=rolled_back.pk).update(status=Run.Status.SUCCESS)
        transaction.set_rollback(True)
    Run.objects.filter(pk=committed.pk).update(status=Run.Status.ERROR)
    for _ in range(3000):
        if heard:
            break
        time.sleep(0.01)
    assert heard == [f"{committed.pk} error"]


class _Recorder:
    def __init__(self, heard: list[str], run_id: str) -> None:
        self.heard, self.run_id = heard, run_id
        self.details: list[str] = []

    def ring(self, kind: str = "", detail: str = "") -> None:
        self.heard.append(f"{self.run_id} {kind}")
        self.details.append(detail)


def test_a_wait_is_not_woken_by_its_runs_events_nor_its_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run starts and records an event, each in a transaction of its own,
    before it ends: the wait looks at its status once all the same (first; its
    end's notification then reads its output)."""
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", NEVER)
    looks = _counting(monkeypatch, "_finished")
    run = _pending_run()
    heard: list[str] = []

    def progress() -> None:
        try:
            Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
            RunEvent.objects.create(
                run=run, seq=3, event="updates", data="{}", created_at=timezone.now()
            )
        finally:
            connection.close()

    async def scenario() -> bytes:
        hub = notifications.hub()
        assert hub is not None
        assert await asyncio.to_thread(hub.up.wait, 30)
        hub.add(str(run.pk), _Recorder(heard, str(run.pk)))  # type: ignore[arg-type]
        reading = asyncio.create_task(_read(runs_api.outcome(run.pk)))
        for _ in range(3000):
            if looks:
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(progress)
        for _ in range(3000):  # both heard (so the wait was rung for both)
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(_finish, run)
        return await asyncio.wait_for(reading, 60)

    body = asyncio.run(scenario())
    assert json.loads(body) == {"n": 2}
    assert heard[:2] == [f"{run.pk} running", f"{run.pk} event"]
    assert len(looks) == 1, len(looks)


def test_a_waiter_is_rung_only_for_what_it_wants() -> None:
    async def rung(kinds: list[str]) -> int:
        waiter = notifications.Waiter(None, runs_api._may_be_over)
        for kind in kinds:
            waiter.ring(kind)
        await asyncio.sleep(0.01)  # the rings' callbacks run on the loop
        return waiter.woken

    assert asyncio.run(rung(["event", "pending", "running"])) == 0
    assert asyncio.run(rung(["success"])) == 1
    assert asyncio.run(rung(["interrupted", ""])) == 2  # over; deleted or unknown


def _heard(run: Run, kind: str) -> None:
    """Waits until this process's listener heard ``kind`` of ``run``."""
    hub = notifications.hub()
    assert hub is not None
    for _ in range(3000):
        with hub.lock:
            if hub.recent.get(str(run.pk), (0, ""))[1] == kind:
                return
        time.sleep(0.01)
    raise AssertionError(f"{kind} of {run.pk} not heard")


def _listening() -> notifications.Hub:
    hub = notifications.hub()
    assert hub is not None
    assert hub.up.wait(30)
    return hub


def test_a_wait_of_a_run_it_created_hears_its_end_without_a_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The request that created the run watches it after the commit; what the
    run was notified of meanwhile (here: its end) was kept for it."""
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", NEVER)
    looks = _counting(monkeypatch, "_finished")
    _listening()
    since = time.monotonic()
    run = _pending_run()
    _finish(run)
    _heard(run, Run.Status.SUCCESS)
    body = asyncio.run(_read(runs_api.outcome(run.pk, since=since)))
    assert json.loads(body) == {"n": 2}
    assert looks == []


def test_a_wait_of_a_run_it_created_is_woken_without_a_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", NEVER)
    looks = _counting(monkeypatch, "_finished")
    _listening()
    since = time.monotonic()
    run = _pending_run()

    async def scenario() -> bytes:
        reading = asyncio.create_task(_read(runs_api.outcome(run.pk, since=since)))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(_finish, run)
        return await asyncio.wait_for(reading, 60)

    assert json.loads(asyncio.run(scenario())) == {"n": 2}
    assert looks == []


def test_a_wait_looks_first_unless_listening_since_before_its_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Created before the listener was up (or too long ago): what was notified
    meanwhile may be lost, so the wait looks first."""
    looks = _counting(monkeypatch, "_finished")
    hub = _listening()
    run = _pending_run()
    _finish(run)
    _heard(run, Run.Status.SUCCESS)
    stale = time.monotonic() - notifications.RECENT_SECONDS
    for since in (hub.up_since - 0.001, stale):
        looks.clear()
        body = asyncio.run(_read(runs_api.outcome(run.pk, since=since)))
        assert json.loads(body) == {"n": 2}
        assert looks == [1]


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    original = agent_runs.run_output

    def read(*args: Any) -> Any:
        reads.append(1)
        return original(*args)

    monkeypatch.setattr(agent_runs, "run_output", read)
    return reads


@pytest.mark.parametrize("size", [10, 8000])
def test_a_final_notification_carries_the_answer_unless_long(
    monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """The end's notification carries the run's last values: the wait answers
    them without reading them (``0021_run_notify_output``); an answer too long
    for a notification's payload is read."""
    monkeypatch.setattr(notifications, "FALLBACK_SECONDS", NEVER)
    looks = _counting(monkeypatch, "_finished")
    reads = _counting_reads(monkeypatch)
    _listening()
    since = time.monotonic()
    run = _pending_run()
    answer = {"n": 2, "text": "é" * size}

    async def scenario() -> bytes:
        reading = asyncio.create_task(_read(runs_api.outcome(run.pk, since=since)))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(_finish, run, answer)
        return await asyncio.wait_for(reading, 60)

    assert json.loads(asyncio.run(scenario())) == answer
    assert looks == []
    assert reads == ([] if size == 10 else [1])
