"""Console personas (Django users in the console's groups) and run helpers."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client

from runtime import registry
from runtime.models import DeadLetter, Interrupt, Job
from runtime.worker.drain import worker_drain
from tests.factories import make_job
from tests.runtime.admin.console_graphs import CONSOLE_GRAPHS

PASSWORD = "correct horse battery staple"
console_groups = importlib.import_module("runtime.migrations.0003_console_groups")
console_policies = importlib.import_module("runtime.migrations.0012_retention_budgets")
console_runs = importlib.import_module(
    "runtime.migrations.0009_console_dismiss_and_start_runs"
)


@pytest.fixture(autouse=True)
def _console_graphs(_test_graphs: None, settings: Any) -> None:
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **CONSOLE_GRAPHS}
    registry._cache.clear()


def ensure_groups() -> None:
    """The migration's groups; a transactional test's flush may have removed them."""
    if Group.objects.filter(name__in=["oris-admin", "oris-operator"]).count() < 2:
        console_groups.create_groups(apps, None)
        console_runs.grant_operator(apps, None)
        console_policies.grant_policies(apps, None)


def make_user(username: str, *groups: str, superuser: bool = False) -> User:
    ensure_groups()
    user = User.objects.create_user(
        username, password=PASSWORD, is_staff=True, is_superuser=superuser
    )
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_admin(db: None) -> User:
    return make_user("alice", "oris-admin")


@pytest.fixture
def bob_operator(db: None) -> User:
    return make_user("bob", "oris-operator")


@pytest.fixture
def carol_viewer(db: None) -> User:
    """Staff, but in no console group: sees nothing of the runtime."""
    return make_user("carol")


@pytest.fixture
def admin_client(alice_admin: User) -> Client:
    return client_for(alice_admin)


@pytest.fixture
def operator_client(bob_operator: User) -> Client:
    return client_for(bob_operator)


@pytest.fixture
def viewer_client(carol_viewer: User) -> Client:
    return client_for(carol_viewer)


def drain() -> int:
    return worker_drain(worker_id="t")


def interrupted(graph: str = "approval", **kwargs: Any) -> Interrupt:
    """A run paused at its interrupt; returns the pending interrupt."""
    default = {"topic": "oris"} if graph == "approval" else {}
    job = make_job(graph, input=kwargs.pop("input", default), **kwargs)
    drain()
    return Interrupt.objects.get(job=job, status=Interrupt.Status.PENDING)


def dead_letter(graph: str = "boom") -> DeadLetter:
    """A run that failed for good (no retry policy: the first failure is final)."""
    job = make_job(graph)
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    return DeadLetter.objects.get(job=job)
