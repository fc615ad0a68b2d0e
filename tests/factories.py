"""Plain setup helpers for the runtime tests."""

from __future__ import annotations

from typing import Any

from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from runtime.models import Job
from runtime.services.audit import Actor
from runtime.services.jobs import job_create

ALICE = Actor(type="user", id="alice", role="admin", request_id="req-1")


def make_job(graph: str = "chain", input: Any = None, **overrides: Any) -> Job:
    return job_create(graph=graph, input=input or {}, actor=ALICE, **overrides)


def queued_doorbells() -> list[tuple[str, tuple[Any, ...]]]:
    """The q2 tasks waiting in the ORM broker, as ``(func, args)``."""
    broker = get_broker()
    tasks = []
    while batch := broker.dequeue():
        for _, pack in batch:
            task = SignedPackage.loads(pack)
            tasks.append((task["func"], tuple(task["args"])))
    return tasks
