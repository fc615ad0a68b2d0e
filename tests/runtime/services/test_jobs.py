from __future__ import annotations

import pytest
from django.db import transaction

from runtime.errors import Conflict, InvalidArgument, UnknownGraph
from runtime.models import Attempt, AuditLog, Job
from runtime.services.jobs import job_cancel, validate_retry_policy
from tests.factories import ALICE, make_job, queued_doorbells

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("q2_rings")
def test_it_writes_job_attempt_doorbell_and_audit_together() -> None:
    job = make_job(thread_id="t-1", priority=7, tenant_id="acme")
    attempt = job.attempts.get()
    assert job.status == Job.Status.QUEUED
    assert (attempt.status, attempt.attempt_no, attempt.kind) == ("queued", 1, "run")
    assert (attempt.priority, attempt.tenant_id) == (7, "acme")
    assert len(job.graph_hash) == 64
    assert queued_doorbells() == [("runtime.tasks.run_queue", ("default",))]
    audit = AuditLog.objects.get(action="job.run")
    assert (audit.actor_id, audit.resource_id, audit.request_id) == (
        "alice",
        "t-1",
        "req-1",
    )


def test_it_turns_a_string_input_into_a_human_message() -> None:
    job = make_job(graph="echo", input="hello")
    assert job.input == {"messages": [{"role": "user", "content": "hello"}]}


def test_it_rejects_an_unknown_graph_and_writes_nothing() -> None:
    with pytest.raises(UnknownGraph) as raised:
        make_job(graph="nope")
    assert "chain" in raised.value.details["known_graphs"]
    assert not Job.objects.exists()
    assert not Attempt.objects.exists()


def test_it_rejects_a_duplicate_thread() -> None:
    make_job(thread_id="same")
    with pytest.raises(Conflict):
        make_job(thread_id="same")
    assert Attempt.objects.count() == 1


def test_a_duplicate_thread_leaves_the_callers_transaction_usable() -> None:
    with transaction.atomic():
        first = make_job(thread_id="same")
        with pytest.raises(Conflict):
            make_job(thread_id="same", priority=5)
        second = make_job(thread_id="other")
    assert Job.objects.get(thread_id="same").pk == first.pk
    assert Attempt.objects.filter(job=first).count() == 1
    assert Attempt.objects.filter(job=second).count() == 1
    assert AuditLog.objects.filter(action="job.run").count() == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"priority": 101}, "priority must be between 0 and 100"),
        (
            {"timeout_policy": {"timeout_ms": 0, "on_timeout_status": "failed"}},
            "timeout_policy.timeout_ms must be > 0",
        ),
        (
            {"timeout_policy": {"timeout_ms": 5, "on_timeout_status": "x"}},
            "on_timeout_status",
        ),
        ({"retry_policy": {"strategy": "linear", "backoff_ms": 1}}, "strategy"),
    ],
)
def test_it_validates_before_writing(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make_job(**overrides)
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"strategy": "fixed", "backoff_ms": 0}, "backoff_ms must be > 0"),
        (
            {"strategy": "fixed", "backoff_ms": 10, "max_backoff_ms": 5},
            "max_backoff_ms must be >= retry_policy.backoff_ms",
        ),
        (
            {"strategy": "exponential", "backoff_ms": 10, "multiplier": 1.0},
            "multiplier must be > 1.0",
        ),
        ({"strategy": "fixed", "backoff_ms": 10, "max_retries": -1}, "max_retries"),
    ],
)
def test_retry_policy_validation(policy: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        validate_retry_policy(policy)


def test_exponential_policy_defaults_its_multiplier() -> None:
    policy = validate_retry_policy({"strategy": "Exponential", "backoff_ms": 100})
    assert policy["multiplier"] == 2.0
    assert policy["strategy"] == "exponential"


def test_it_cancels_a_queued_job_at_once() -> None:
    job = make_job()
    job = job_cancel(job=job, actor=ALICE, reason="not needed")
    assert job.status == Job.Status.CANCELLED
    assert job.cancel_requested
    assert job.attempts.get().status == Attempt.Status.CANCELLED
    assert AuditLog.objects.filter(action="job.cancel", resource_id=job.thread_id)


def test_it_rejects_cancel_of_a_finished_job() -> None:
    job = job_cancel(job=make_job(), actor=ALICE)
    with pytest.raises(Conflict):
        job_cancel(job=job, actor=ALICE)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tenant_id": "a b"}, "tenant_id contains unsupported characters"),
        ({"tenant_id": "x" * 129}, "tenant_id must be 128 characters or fewer"),
    ],
)
def test_the_api_rules_apply_to_every_caller(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make_job(**overrides)
    assert not Job.objects.exists()


def test_a_timeout_policy_and_tenant_are_normalised() -> None:
    job = make_job(
        timeout_policy={"timeout_ms": 100, "on_timeout_status": "failed"},
        tenant_id=" acme ",
    )
    assert (job.timeout_ms, job.timeout_status, job.tenant_id) == (
        100,
        "failed",
        "acme",
    )
