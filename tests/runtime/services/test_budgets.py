"""Budgets enforced while durable runs execute: an agent whose model is a local
OpenAI-protocol server, paused before the call that would go over its budget."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypedDict

import pytest
from django.db import connection

import graphs
from graphs.checkpoint import InMemorySaver
from graphs.effects import Effect
from runtime import registry
from runtime.models import AuditLog, BudgetPolicy, Interrupt, Job, RunUsage
from runtime.services import budgets, interrupts
from runtime.services.audit import Actor
from runtime.worker.drain import worker_drain
from tests.agents.conftest import WireServer
from tests.factories import make_job
from tests.runtime.metrics_graphs import METRICS_GRAPHS
from tests.runtime.test_crash_recovery import MANAGE, worker_env
from tests.runtime.test_metrics_workload import openai_reply

pytestmark = pytest.mark.django_db

OPERATOR = Actor(type="user", id="olga", role="operator")
CALC = {"name": "calculator", "args": {"expression": "2+3"}}


class Out(TypedDict, total=False):
    out: list[int]


@pytest.fixture
def wire(settings, monkeypatch) -> Any:
    """The model server, and the agent graph that calls it."""
    server = WireServer()
    monkeypatch.setenv("ORIS_TEST_LLM_URL", server.url)
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, **METRICS_GRAPHS}
    registry._cache.clear()
    yield server
    server.close()


def drain() -> None:
    worker_drain(worker_id="budget-test")


def pending(job: Job) -> Interrupt:
    job.refresh_from_db()
    assert job.status == Job.Status.INTERRUPTED, job.error
    return Interrupt.objects.get(job=job, status=Interrupt.Status.PENDING)


def test_an_agent_pauses_before_the_call_over_its_token_budget_and_approving_more_lets_it_finish(  # noqa: E501
    wire,
) -> None:
    BudgetPolicy.objects.create(graph="agent", max_tokens=100)
    wire.reply(
        openai_reply((60, 20), call=CALC),
        openai_reply((60, 20), call=CALC),
        openai_reply((60, 20), content="5"),
    )
    job = make_job("agent", {"messages": [{"role": "user", "content": "2+3?"}]})
    drain()

    paused = pending(job)
    assert paused.value["type"] == "budget_exceeded"
    assert paused.value["question"] == "budget exceeded: approve 100 more tokens?"
    assert (paused.value["budget"], paused.value["scope"]) == ("tokens", "run")
    assert (paused.value["used"], paused.value["limit"]) == (160, 100)
    assert len(wire.requests) == 2  # the third call was not sent
    usage = RunUsage.objects.get(job=job)
    assert (usage.tokens, usage.model_calls, usage.tool_calls) == (160, 2, 2)

    interrupts.interrupt_resume(
        interrupt=paused, value={"approve": 200}, actor=OPERATOR
    )
    drain()

    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    assert len(wire.requests) == 3
    usage.refresh_from_db()
    assert (usage.tokens, usage.model_calls) == (240, 3)
    assert usage.grants == {"run:tokens:100": 200.0}
    # PRICING of the agent's model: $2 / $8 per million tokens
    assert usage.cost_usd == Decimal("0.00084")
    granted = AuditLog.objects.get(action="budget.granted")
    assert granted.details["amount"] == 200.0
    assert AuditLog.objects.filter(action="interrupt.resume", actor_id="olga").exists()


def test_true_approves_the_suggested_amount_and_a_second_pause_asks_again(
    wire,
) -> None:
    BudgetPolicy.objects.create(graph="agent", max_tokens=50)
    wire.reply(*[openai_reply((40, 20), call=CALC) for _ in range(2)])
    wire.reply(openai_reply((40, 20), content="done"))
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    first = pending(job)
    assert (first.value["used"], first.value["limit"]) == (60, 50)
    interrupts.interrupt_resume(interrupt=first, value=True, actor=OPERATOR)
    drain()
    second = pending(job)
    assert (second.value["used"], second.value["limit"]) == (120, 100)
    interrupts.interrupt_resume(interrupt=second, value=True, actor=OPERATOR)
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    grants = RunUsage.objects.get(job=job).grants
    assert grants == {"run:tokens:50": 50.0, "run:tokens:100": 50.0}


def test_rejecting_the_budget_request_cancels_the_run(wire) -> None:
    BudgetPolicy.objects.create(max_tokens=10)
    wire.reply(openai_reply((20, 5), call=CALC))
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    interrupts.interrupt_reject(interrupt=pending(job), actor=OPERATOR, reason="no")
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert len(wire.requests) == 1


def test_a_fail_policy_fails_the_run_instead(wire) -> None:
    BudgetPolicy.objects.create(
        graph="agent", max_tokens=10, on_exceed=BudgetPolicy.OnExceed.FAIL
    )
    wire.reply(openai_reply((20, 5), call=CALC))
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error["type"].endswith("BudgetExceeded")
    assert "run budget of tokens exceeded: 25 used of 10" in job.error["message"]
    assert len(wire.requests) == 1


def test_the_tool_call_budget_is_checked_before_each_tool(wire) -> None:
    BudgetPolicy.objects.create(graph="agent", max_tool_calls=1)
    wire.reply(*[openai_reply((5, 5), call=CALC) for _ in range(2)])
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    paused = pending(job)
    assert (paused.value["budget"], paused.value["used"]) == ("tool_calls", 1)
    assert RunUsage.objects.get(job=job).tool_calls == 1
    assert len(wire.requests) == 2


def test_a_spent_wall_time_budget_pauses_before_the_first_call(wire) -> None:
    BudgetPolicy.objects.create(max_wall_seconds=0)
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    assert pending(job).value["budget"] == "wall_seconds"
    assert wire.requests == []


def test_a_run_without_a_policy_is_metered_but_never_stopped(wire, settings) -> None:
    wire.reply(openai_reply((10, 5), call=CALC), openai_reply((10, 5), content="5"))
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED
    usage = RunUsage.objects.get(job=job)
    assert (usage.tokens, usage.model_calls, usage.tool_calls) == (30, 2, 1)


def test_the_price_table_prices_calls_whose_reply_has_no_cost(settings) -> None:
    settings.ORIS_PRICES = {"openai:gpt-x": {"input": 1.0, "output": 4.0}}
    usage = {"input_tokens": 1000, "output_tokens": 500}
    cost = budgets.call_cost(name="openai:gpt-x", usage=usage, stated=0.0)
    assert cost == Decimal("0.003")
    assert budgets.call_cost(name="openai:unpriced", usage=usage, stated=0.0) == 0
    stated = budgets.call_cost(name="openai:gpt-x", usage=usage, stated=0.25)
    assert stated == Decimal("0.25")  # what the model's pricing said wins


def test_the_most_specific_policy_of_each_scope_applies() -> None:
    BudgetPolicy.objects.create(max_tokens=1)
    BudgetPolicy.objects.create(graph="agent", max_tokens=2)
    BudgetPolicy.objects.create(graph="agent", tenant_id="acme", max_tokens=3)
    BudgetPolicy.objects.create(tenant_id="acme", scope="tenant", max_tokens=4)
    found = budgets.budget_policies(graph="agent", tenant_id="acme")
    assert (found["run"].max_tokens, found["tenant"].max_tokens) == (3, 4)
    found = budgets.budget_policies(graph="other", tenant_id="zed")
    assert found["run"].max_tokens == 1
    assert "tenant" not in found


@pytest.mark.django_db(transaction=True)
def test_a_tenant_budget_holds_across_concurrent_runs_in_worker_processes(
    wire,
) -> None:
    """Two runs of one tenant in two worker processes, each calling the model
    in a loop: both pause once the tenant's total reaches its budget, each
    at most one call over (the check is before each call)."""
    BudgetPolicy.objects.create(tenant_id="acme", scope="tenant", max_tokens=300)
    wire.reply(*[openai_reply((30, 20), call=CALC) for _ in range(20)])
    jobs = [
        make_job(
            "agent", {"messages": [{"role": "user", "content": "go"}]}, tenant_id="acme"
        )
        for _ in range(2)
    ]
    other = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    env = worker_env() | {
        "ORIS_GRAPHS": ",".join(
            f"{k}={v}" for k, v in {**registry_graphs(), **METRICS_GRAPHS}.items()
        ),
        "ORIS_TEST_LLM_URL": wire.url,
    }
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                MANAGE,
                "shell",
                "--no-imports",
                "-c",
                "from runtime.worker.execute import attempt_execute; "
                f"attempt_execute(attempt_id={job.attempts.get().pk!r}, "
                f"worker_id='w{index}')",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index, job in enumerate(jobs)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err
    for job in jobs:
        paused = pending(job)
        assert (paused.value["scope"], paused.value["budget"]) == ("tenant", "tokens")
        assert paused.value["used"] >= 300
    total = budgets.tenant_usage(tenant_id="acme").tokens
    assert 300 <= total <= 300 + 2 * 50
    assert len(wire.requests) == total // 50
    # Another tenant's run is not held back by acme's budget.
    wire.replies.clear()
    wire.reply(openai_reply((1, 1), content="ok"))
    worker_drain(worker_id="budget-test")
    other.refresh_from_db()
    assert other.status == Job.Status.COMPLETED, other.error


def registry_graphs() -> dict[str, str]:
    from tests.runtime.sample_graphs import TEST_GRAPHS

    return TEST_GRAPHS


def test_usage_and_budget_stops_are_in_the_metrics(wire) -> None:
    from tests.runtime.test_metrics import scrape

    BudgetPolicy.objects.create(max_tokens=10)
    wire.reply(openai_reply((20, 5), call=CALC))
    job = make_job(
        "agent", {"messages": [{"role": "user", "content": "go"}]}, tenant_id="acme"
    )
    drain()
    assert pending(job).value["budget"] == "tokens"
    found = scrape()
    assert found[("oris_runtime_tenant_tokens_total", (("tenant", "acme"),))] == 25
    cost = found[("oris_runtime_tenant_cost_usd_total", (("tenant", "acme"),))]
    assert cost == pytest.approx(20 * 2e-6 + 5 * 8e-6)
    labels = (("budget", "tokens"), ("on_exceed", "pause"), ("scope", "run"))
    assert found[("oris_runtime_budget_exceeded_total", labels)] == 1


def test_an_operator_approves_more_in_the_console_inbox(wire) -> None:
    from django.urls import reverse

    from tests.runtime.admin.conftest import client_for, ensure_groups, make_user

    ensure_groups()
    operator = client_for(make_user("bob", "oris-operator"))
    BudgetPolicy.objects.create(graph="agent", max_tokens=50)
    wire.reply(openai_reply((40, 20), call=CALC), openai_reply((40, 20), content="5"))
    job = make_job("agent", {"messages": [{"role": "user", "content": "go"}]})
    drain()
    paused = pending(job)
    page = reverse("admin:runtime_interrupt_change", args=[paused.pk])
    body = operator.get(page).content.decode()
    assert "budget exceeded: approve 50 more tokens?" in body
    assert 'name="answer_approve"' in body
    operator.post(page, {"decision": "schema", "answer_approve": "80"}, follow=True)
    paused.refresh_from_db()
    assert paused.resume_value == {"approve": 80}
    assert paused.resolved_by == "user:bob"
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.COMPLETED, job.error
    assert RunUsage.objects.get(job=job).grants == {"run:tokens:50": 80.0}


def tool_effect(name: str = "charge") -> Effect:
    return Effect(key=None, kind="tool", name=name, request={}, counts_as="tool_call")


def reserve_at_once(meters: list[budgets.RunMeter], calls: int) -> list[bool]:
    """``calls`` tool calls that reach the gate together (a barrier), each in
    its own thread and database connection: which were let through."""
    barrier = threading.Barrier(calls)

    def one(index: int) -> bool:
        barrier.wait()
        try:
            meters[index % len(meters)].before(tool_effect())
        except budgets.BudgetExceeded:
            return False
        finally:
            connection.close()
        return True

    with ThreadPoolExecutor(calls) as pool:
        return list(pool.map(one, range(calls)))


def ready_meter(job: Job) -> budgets.RunMeter:
    meter = budgets.RunMeter(job, job.attempts.get())
    assert meter.row.tool_calls == 0  # the usage row and policies are read
    assert meter.policies
    return meter


@pytest.mark.django_db(transaction=True)
def test_parallel_tool_calls_reserve_the_run_budget_without_a_race() -> None:
    BudgetPolicy.objects.create(graph="chain", max_tool_calls=5, on_exceed="fail")
    meter = ready_meter(make_job("chain", {}))
    allowed = reserve_at_once([meter], 12)
    assert allowed.count(True) == 5
    assert RunUsage.objects.get(job=meter.job).tool_calls == 5


@pytest.mark.django_db(transaction=True)
def test_parallel_tool_calls_of_a_tenants_runs_reserve_its_budget_without_a_race() -> (
    None
):
    BudgetPolicy.objects.create(
        tenant_id="acme", scope="tenant", max_tool_calls=7, on_exceed="fail"
    )
    meters = [ready_meter(make_job("chain", {}, tenant_id="acme")) for _ in range(3)]
    allowed = reserve_at_once(meters, 15)
    assert allowed.count(True) == 7
    rows = RunUsage.objects.filter(tenant_id="acme")
    assert sum(r.tool_calls for r in rows) == 7


def test_a_user_effect_that_counts_as_a_tool_call_is_budgeted() -> None:
    """``@graphs.effect(counts_as="tool_call")`` is held to the tool-call
    budget through the same gate as agents' tools; a plain effect is not."""
    BudgetPolicy.objects.create(graph="chain", max_tool_calls=2, on_exceed="fail")
    job = make_job("chain", {})
    meter = budgets.RunMeter(job, job.attempts.get())
    sent: list[int] = []

    @graphs.effect(name="send", counts_as="tool_call")
    def send(value: int) -> int:
        sent.append(value)
        return value

    @graphs.effect(name="note")
    def note(value: int) -> int:
        return value

    def work(state: dict[str, Any]) -> dict[str, Any]:
        return {"out": [note(send(i)) for i in range(3)]}

    builder = graphs.StateGraph(Out)
    builder.add_node("work", work)
    builder.add_edge(graphs.START, "work")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {
        "configurable": {"thread_id": "t-user-effect"},
        "effects": meter.options(),
    }
    with pytest.raises(budgets.BudgetExceeded, match="tool_calls exceeded"):
        graph.invoke({"out": []}, config)
    assert sent == [0, 1]  # the third never ran
    assert RunUsage.objects.get(job=job).tool_calls == 2
