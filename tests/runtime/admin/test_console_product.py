"""The console as operators use it (issue 16): dismissing a request, a run's
conversation, the live run page, starting runs, and the small things."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from runtime.models import AuditLog, Interrupt, Job
from runtime.services.audit import Actor
from runtime.services.interrupts import interrupt_resume
from tests.factories import make_job
from tests.runtime.admin.conftest import drain, interrupted

pytestmark = pytest.mark.django_db

START = reverse("admin:runtime_job_add")
RUNS = reverse("admin:runtime_job_changelist")


def interrupt_page(interrupt: Interrupt) -> str:
    return reverse("admin:runtime_interrupt_change", args=[interrupt.pk])


def run_page(job: Job) -> str:
    return reverse("admin:runtime_job_change", args=[job.pk])


def live(job: Job) -> str:
    return reverse("admin:runtime_job_live", args=[job.pk])


# --- dismiss ---------------------------------------------------------------------


def test_dismiss_ends_the_run_without_acting_and_is_audited(
    operator_client: Client,
) -> None:
    pending = interrupted()
    response = operator_client.post(
        interrupt_page(pending),
        {"decision": "dismiss", "note": "duplicate"},
        follow=True,
    )
    assert "Dismissed: nothing was sent to the run" in response.content.decode()
    pending.refresh_from_db()
    assert (pending.status, pending.resume_value) == ("dismissed", None)
    assert (pending.resolved_by, pending.reason) == ("user:bob", "duplicate")
    job = Job.objects.get(pk=pending.job_id)
    assert job.status == Job.Status.CANCELLED
    assert job.cancel_reason == "interrupt dismissed by user:bob: duplicate"
    assert job.result is None  # publish never ran
    drain()
    assert Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED
    row = AuditLog.objects.get(action="interrupt.dismiss")
    assert (row.actor_type, row.actor_id, row.resource_id) == (
        "user",
        "bob",
        pending.pk,
    )
    assert row.details == {"thread_id": job.thread_id, "reason": "duplicate"}


def test_dismissing_an_answered_request_changes_nothing(
    operator_client: Client,
) -> None:
    pending = interrupted()
    interrupt_resume(interrupt=pending, value=True, actor=Actor.system())
    response = operator_client.post(
        interrupt_page(pending), {"decision": "dismiss"}, follow=True
    )
    assert "Your answer was not applied" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.RESUMED
    refused = AuditLog.objects.get(action="interrupt.dismiss")
    assert (refused.result, refused.actor_id) == ("error", "bob")
    assert refused.details["status_code"] == 409


def test_dismiss_needs_the_resolve_permission(viewer_client: Client) -> None:
    pending = interrupted()
    response = viewer_client.post(interrupt_page(pending), {"decision": "dismiss"})
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_an_admin_may_dismiss(admin_client: Client) -> None:
    pending = interrupted()
    admin_client.post(interrupt_page(pending), {"decision": "dismiss"})
    pending.refresh_from_db()
    assert (pending.status, pending.resolved_by) == ("dismissed", "user:alice")


# --- context: the conversation, the state the request refers to ------------------


def test_a_tool_approval_shows_the_conversation_as_a_chat(
    operator_client: Client,
) -> None:
    pending = interrupted(
        "assistant", input={"messages": [{"role": "user", "content": "what is 6*7?"}]}
    )
    response = operator_client.get(interrupt_page(pending))
    page = response.content.decode()
    chat = [(m.role, m.text) for m in response.context["conversation"]]
    assert chat[0] == ("human", "what is 6*7?")
    assert ("tool", "42") in chat
    assert chat[-1][0] == "ai"
    assert "I'd like to save it" in chat[-1][1]
    assert 'class="oris-msg oris-msg-human"' in page
    assert '<code class="tool-name">write_file</code>' in page
    assert "message.ai" not in page
    assert "__t" not in page


def test_the_request_shows_the_state_fields_it_refers_to(
    operator_client: Client,
) -> None:
    pending = interrupted(input={"topic": "leases"})
    response = operator_client.get(interrupt_page(pending))
    referred = dict(response.context["referred_state"])
    assert set(referred) == {"topic", "notes"}
    assert referred["topic"].text == "leases"
    assert "Key facts about leases" in referred["notes"].text


def test_checkpoint_diffs_show_new_messages_as_a_chat(operator_client: Client) -> None:
    job = interrupted(
        "assistant", input={"messages": [{"role": "user", "content": "2+3"}]}
    ).job
    response = operator_client.get(run_page(job))
    page = response.content.decode()
    changes = [c for row in response.context["checkpoints"] for c in row["changes"]]
    added = [c["added"] for c in changes if c["change"].key == "messages"]
    assert [m.role for m in added[-1]] == ["human"]  # the input checkpoint's
    assert "new message" in page
    assert "message.human" not in page
    assert "&quot;__t&quot;" not in page


def test_long_values_are_folded(operator_client: Client) -> None:
    job = interrupted(input={"topic": "x" * 600}).job
    response = operator_client.get(run_page(job))
    assert response.context["input_value"].folded
    page = response.content.decode()
    assert '<details class="oris-fold">' in page
    assert "x" * 600 in page  # folded, not cut: the whole value opens


# --- the live run page -----------------------------------------------------------


def test_the_live_part_marks_finished_nodes_with_their_durations(
    operator_client: Client,
) -> None:
    job = make_job("chain")
    queued = operator_client.get(live(job))
    assert queued.status_code == 200
    assert queued.context["nodes"] == []
    drain()
    response = operator_client.get(live(job))
    nodes = response.context["nodes"]
    assert [(n.node, n.status) for n in nodes] == [
        ("a", "done"),
        ("b", "done"),
        ("c", "done"),
    ]
    assert all(n.duration_ms is not None and n.duration_ms >= 0 for n in nodes)
    assert all(n.started_at <= n.finished_at for n in nodes)
    body = response.content.decode()
    assert 'class="oris-node-done" data-node="a"' in body
    assert "class a done" in response.context["mermaid"]
    texts = [row["event"].text for row in response.context["timeline"]]
    assert "node a started (step 1)" in texts
    assert any(t.startswith("node c finished after ") for t in texts)
    assert "<html" not in body  # a fragment, swapped into the page


def test_a_failed_node_is_marked_failed(operator_client: Client) -> None:
    job = make_job("boom")
    drain()
    response = operator_client.get(run_page(job))
    nodes = {n.node: n.status for n in response.context["nodes"]}
    assert nodes == {"prepare": "done", "explode": "failed"}
    assert "class explode failed" in response.context["mermaid"]
    page = response.content.decode()
    assert 'id="job-error"' in page
    assert "boom: the tool server is down" in page
    # status, input and error lead the page, before the graph and the timeline
    assert page.index('id="job-error"') < page.index('id="graph-diagram"')


def test_a_backing_off_attempt_shows_its_next_retry(
    operator_client: Client, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "1")
    policy = {"strategy": "fixed", "backoff_ms": 600_000, "max_retries": 2}
    job = make_job("flaky", retry_policy=policy)
    drain()
    attempt = job.attempts.get()
    assert attempt.status == "retry_backoff"
    response = operator_client.get(run_page(job))
    page = response.content.decode()
    assert 'id="next-retry"' in page
    assert f"attempt #2 next retry at {attempt.retry_at:%Y-%m-%d %H:%M:%S} UTC" in page
    nodes = {n.node: n.status for n in response.context["nodes"]}
    assert nodes["flaky"] == "failed"


def test_attempt_counts_agree_after_retries(
    operator_client: Client, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ORIS_TEST_FLAKY_FAILURES", "2")
    policy = {"strategy": "fixed", "backoff_ms": 1, "max_retries": 3}
    job = make_job("flaky", retry_policy=policy)
    for _ in range(20):
        drain()
        job.refresh_from_db()
        if job.status == Job.Status.COMPLETED:
            break
        time.sleep(0.01)  # the 1-ms backoff passes
    assert job.status == Job.Status.COMPLETED
    response = operator_client.get(run_page(job))
    assert [a.attempt_no for a in response.context["attempts"]] == [3]
    assert "1 attempt, 3 tries" in response.content.decode()
    texts = [row["event"].text for row in response.context["timeline"]]
    assert any("attempt #1 failed" in t and "attempt #2 in" in t for t in texts)
    assert any("attempt #2 failed" in t and "attempt #3 in" in t for t in texts)
    listed = operator_client.get(RUNS).context["cl"].result_list
    assert [j.attempt_total for j in listed] == [3]


def test_the_live_part_needs_view_permission(viewer_client: Client) -> None:
    job = make_job("chain")
    assert viewer_client.get(live(job)).status_code == 403


# --- start a run -----------------------------------------------------------------


def test_an_operator_starts_a_run_and_it_is_audited_as_theirs(
    operator_client: Client,
) -> None:
    page = operator_client.get(f"{START}?graph=approval")
    assert page.status_code == 200
    catalog = {g.name: g for g in page.context["catalog"]}
    assert ("topic", "a string", False) in catalog["approval"].fields
    assert catalog["echo"].fields is not None
    response = operator_client.post(
        START,
        {
            "graph": "approval",
            "input": json.dumps({"topic": "the console"}),
            "thread_id": "from-the-console",
            "priority": "7",
            "tenant_id": "acme",
            "queue": "default",
        },
    )
    job = Job.objects.get(thread_id="from-the-console")
    assert response["Location"] == run_page(job)
    assert (job.graph, job.priority, job.tenant_id) == ("approval", 7, "acme")
    assert job.input == {"topic": "the console"}
    row = AuditLog.objects.get(action="job.run", resource_id="from-the-console")
    assert (row.actor_type, row.actor_id, row.actor_role) == ("user", "bob", "operator")
    drain()
    job.refresh_from_db()
    assert job.status == Job.Status.INTERRUPTED


def test_an_input_the_graph_cannot_take_is_a_form_error(
    operator_client: Client,
) -> None:
    response = operator_client.post(
        START,
        {
            "graph": "approval",
            "input": json.dumps({"topic": 3, "colour": "red"}),
            "priority": "0",
            "queue": "default",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["input"]
    assert "input.topic: must be a string" in errors
    assert "input.colour: is not in the graph's input schema" in errors
    assert not Job.objects.exists()
    refused = AuditLog.objects.get(action="job.run")
    assert (refused.result, refused.actor_id) == ("error", "bob")
    assert refused.details["error"] == "invalid_argument"


def test_a_thread_id_in_use_is_refused(operator_client: Client) -> None:
    make_job("chain", thread_id="taken")
    response = operator_client.post(
        START,
        {"graph": "chain", "input": "{}", "thread_id": "taken", "priority": "0"}
        | {"queue": "default"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Job.objects.count() == 1


def test_invalid_json_input_and_a_bad_priority_are_form_errors(
    operator_client: Client,
) -> None:
    response = operator_client.post(
        START, {"graph": "chain", "input": "{nope", "priority": "101", "queue": "q"}
    )
    errors = response.context["form"].errors
    assert set(errors) == {"input", "priority"}
    assert not Job.objects.exists()


def test_only_the_console_groups_start_runs(
    admin_client: Client, viewer_client: Client
) -> None:
    assert viewer_client.get(START).status_code == 403
    post = {"graph": "chain", "input": "{}", "priority": "0", "queue": "default"}
    assert viewer_client.post(START, post).status_code == 403
    assert not Job.objects.exists()
    admin_client.post(START, post)
    assert Job.objects.get().graph == "chain"


def test_the_runs_list_offers_to_start_a_run(
    operator_client: Client, viewer_client: Client
) -> None:
    body = operator_client.get(RUNS).content.decode()
    assert f'<a href="{START}" class="addlink" id="start-run">Start a run</a>' in body


# --- small things ----------------------------------------------------------------


def test_view_site_goes_to_the_console_and_pages_have_a_favicon(
    operator_client: Client,
) -> None:
    body = operator_client.get(reverse("admin:index")).content.decode()
    assert '<a href="/admin/">View site</a>' in body
    assert 'rel="icon" type="image/svg+xml" href="/static/runtime/favicon.svg"' in body
    icon = operator_client.get("/favicon.ico")
    assert (icon.status_code, icon["Location"]) == (302, "/static/runtime/favicon.svg")


def test_dates_have_one_format_with_the_time_zone(operator_client: Client) -> None:
    job = make_job("chain")
    page = operator_client.get(run_page(job)).content.decode()
    assert f"{job.created_at:%Y-%m-%d %H:%M:%S} UTC" in page
    listed = operator_client.get(RUNS).content.decode()
    assert f"{job.updated_at:%Y-%m-%d %H:%M:%S} UTC" in listed


def test_the_task_queue_admin_is_hidden_from_operators(
    operator_client: Client, admin_client: Client
) -> None:
    index = operator_client.get(reverse("admin:index")).content.decode()
    assert "django_q" not in index
    assert "Scheduled tasks" not in index
    for name in ("schedule", "success", "failure", "ormq"):
        url = reverse(f"admin:django_q_{name}_changelist")
        assert operator_client.get(url).status_code == 403


def test_a_request_whose_answer_needs_a_person_has_no_one_click_approve(
    operator_client: Client,
) -> None:
    from runtime.admin.answers import answer_template, template_is_an_answer

    request = {
        "question": "Which region?",
        "response_schema": {
            "type": "object",
            "properties": {"region": {"type": "string"}, "note": {"type": "string"}},
            "required": ["region"],
        },
    }
    assert not template_is_an_answer(request)
    assert answer_template(request) == {"region": "", "note": ""}
    request["response_schema"]["properties"]["region"]["default"] = "eu"
    assert template_is_an_answer(request)
    assert answer_template({"question": "Go?"}) is True


def test_a_dead_letter_shows_its_last_state_without_tags(
    operator_client: Client,
) -> None:
    from tests.runtime.admin.conftest import dead_letter

    dead = dead_letter("boom")
    page = operator_client.get(
        reverse("admin:runtime_deadletter_change", args=[dead.pk])
    ).content.decode()
    assert "&quot;prepared&quot;: &quot;inputs ready&quot;" in page
    assert "__t" not in page
