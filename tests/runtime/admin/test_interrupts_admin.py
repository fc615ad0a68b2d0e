from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.admin.answers import SchemaAnswerForm
from runtime.models import Attempt, AuditLog, Interrupt, Job
from runtime.services.audit import Actor
from runtime.services.interrupts import interrupt_resume
from tests.runtime.admin.conftest import client_for, drain, interrupted, make_user

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:runtime_interrupt_changelist")


def detail(interrupt: Interrupt) -> str:
    return reverse("admin:runtime_interrupt_change", args=[interrupt.pk])


def test_the_inbox_lists_pending_first_with_age_graph_and_thread(
    operator_client: Client,
) -> None:
    answered = interrupted()
    interrupt_resume(interrupt=answered, value=True, actor=Actor.system())
    pending = interrupted("tool_review")
    response = operator_client.get(INBOX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.index(detail(pending)) < body.index(detail(answered))
    assert pending.job.thread_id in body
    assert "tool_review" in body
    assert "minute" in body  # the age column


def test_a_tool_approval_is_summarised_as_tools_and_arguments(
    operator_client: Client,
) -> None:
    pending = interrupted("tool_review")
    body = operator_client.get(INBOX).content.decode()
    title = "Approve 2 tool calls: write_file, send_email"
    summary = (
        "write_file(path=notes.txt, content=hello) · "
        "send_email(to=ops@example.com, subject=done)"
    )
    assert f'title="{title}">{title}</span>' in body
    assert f'title="{summary}">{summary}</span>' in body  # whole text on hover

    page = operator_client.get(detail(pending)).content.decode()
    assert 'id="action-requests"' in page
    assert "send_email" in page
    assert "approve, reject" in page  # send_email may not be edited


def test_other_payloads_are_pretty_printed_json(operator_client: Client) -> None:
    pending = interrupted()
    page = operator_client.get(detail(pending)).content.decode()
    assert "&quot;question&quot;: &quot;Publish this draft?&quot;" in page
    assert 'id="action-requests"' not in page


def test_the_inbox_leads_with_the_question_and_a_summary(
    operator_client: Client,
) -> None:
    interrupted()
    body = operator_client.get(INBOX).content.decode()
    row = body[body.index('id="result_list"') :]
    assert row.index("Publish this draft?") < row.index("draft: Draft on oris")
    assert "response_schema" not in row  # the answer's schema is not a summary


def test_approve_sends_the_answer_template_and_says_what_it_sent(
    operator_client: Client,
) -> None:
    pending = interrupted()
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    sent = "sent {&quot;approved&quot;: true, &quot;feedback&quot;: &quot;&quot;}"
    assert sent in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.RESUMED
    assert pending.resume_value == {"approved": True, "feedback": ""}
    assert pending.resolved_by == "user:bob"
    drain()
    pending.job.refresh_from_db()
    assert pending.job.status == Job.Status.COMPLETED
    assert pending.job.result["published"].startswith("Draft on oris")


def test_a_yes_no_question_is_answered_true(operator_client: Client) -> None:
    pending = interrupted("yes_no", input={"version": "1.2"})
    page = operator_client.get(detail(pending))
    assert page.context["approve_form"]["value"].value() == "true"
    assert page.context["schema_form"] is None
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    assert "Answered: sent true;" in response.content.decode()
    drain()
    pending.job.refresh_from_db()
    assert pending.job.result == {"version": "1.2", "shipped": True}


def test_the_json_answer_is_prefilled_with_the_template_never_the_request(
    operator_client: Client,
) -> None:
    pending = interrupted()
    page = operator_client.get(detail(pending))
    prefilled = json.loads(page.context["approve_form"]["value"].value())
    assert prefilled == {"approved": True, "feedback": ""}
    value = {"approved": False, "feedback": "too short"}
    response = operator_client.post(
        detail(pending),
        {"decision": "approve_value", "value": json.dumps(value)},
        follow=True,
    )
    assert "sent {&quot;approved&quot;: false" in response.content.decode()
    pending.refresh_from_db()
    assert pending.resume_value == value
    drain()
    pending.job.refresh_from_db()
    assert pending.job.result["feedback"] == "too short"
    assert pending.job.result["published"] == ""


def test_a_declared_response_schema_becomes_a_validated_form(
    operator_client: Client,
) -> None:
    pending = interrupted()
    page = operator_client.get(detail(pending)).content.decode()
    assert 'id="schema-form"' in page
    assert 'name="answer_approved"' in page
    assert "Feedback for the writer" in page
    response = operator_client.post(
        detail(pending),
        {"decision": "schema", "answer_feedback": "shorter, please"},
        follow=True,
    )
    # an unchecked box is false; the confirmation names the exact value sent
    sent = (
        "sent {&quot;approved&quot;: false, &quot;feedback&quot;: "
        "&quot;shorter, please&quot;}"
    )
    assert sent in response.content.decode()
    pending.refresh_from_db()
    assert pending.resume_value == {"approved": False, "feedback": "shorter, please"}
    drain()
    pending.job.refresh_from_db()
    assert pending.job.result["published"] == ""


def test_the_schema_form_refuses_what_the_schema_does_not_allow() -> None:
    schema = {
        "type": "object",
        "properties": {
            "level": {"type": "string", "enum": ["low", "high"]},
            "count": {"type": "integer", "minimum": 1},
            "tags": {"type": "array"},
        },
        "required": ["level", "count"],
    }
    bad = SchemaAnswerForm(
        {"answer_level": '"mid"', "answer_count": "0", "answer_tags": "{}"},
        schema=schema,
    )
    assert not bad.is_valid()
    assert set(bad.errors) == {"answer_level", "answer_count", "answer_tags"}
    good = SchemaAnswerForm(
        {"answer_level": '"high"', "answer_count": "3", "answer_tags": '["a"]'},
        schema=schema,
    )
    assert good.is_valid(), good.errors
    assert good.answer() == {"level": "high", "count": 3, "tags": ["a"]}


def test_invalid_json_is_shown_as_a_form_error(operator_client: Client) -> None:
    pending = interrupted()
    response = operator_client.post(
        detail(pending), {"decision": "approve_value", "value": "{nope"}
    )
    assert response.status_code == 200
    assert "Not valid JSON" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def decide(interrupt: Interrupt, **fields: str) -> dict[str, str]:
    """The per-call form as the page submits it: approve preselected, arguments
    as shown (fields of disabled inputs are not sent)."""
    post = {"decision": "calls"}
    for index, request in enumerate(interrupt.value["action_requests"]):
        post[f"decision_{index}"] = "approve"
        post[f"args_{index}"] = json.dumps(request["args"])
    return {**post, **fields}


def test_edit_changes_the_arguments_then_approves(operator_client: Client) -> None:
    pending = interrupted("tool_review")
    edited = {"path": "notes.txt", "content": "hello, edited"}
    operator_client.post(
        detail(pending),
        decide(
            pending,
            args_0=json.dumps(edited),
            args_1='{"to": "someone@else"}',  # not editable: ignored
        ),
    )
    pending.refresh_from_db()
    assert pending.resume_value == {
        "decisions": [
            {"type": "edit", "edited_action": {"name": "write_file", "args": edited}},
            {"type": "approve"},
        ]
    }
    drain()
    pending.job.refresh_from_db()
    assert pending.job.status == Job.Status.COMPLETED
    assert pending.job.result["decisions"][0]["edited_action"]["args"] == edited


def test_edit_rejects_arguments_that_are_not_an_object(
    operator_client: Client,
) -> None:
    pending = interrupted("tool_review")
    response = operator_client.post(detail(pending), decide(pending, args_0="[1, 2]"))
    assert "must be a JSON object" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


AGENT_INPUT = {"messages": [{"role": "user", "content": "file and mail it"}]}


def test_each_call_offers_only_the_decisions_its_review_allows(
    operator_client: Client,
) -> None:
    pending = interrupted("tool_agent", input=AGENT_INPUT)
    page = operator_client.get(detail(pending)).content.decode()
    assert "Decide each tool call" in page
    assert page.count('name="decision_0"') == 3  # write_file: approve, edit, reject
    assert page.count('name="decision_1"') == 2  # send_email: approve, reject
    assert 'id="id_decision_1_0" checked' in page  # approve preselected
    assert re.search(r'<textarea name="args_1"[^>]* disabled', page)  # no edit
    assert not re.search(r'<textarea name="args_0"[^>]* disabled', page)
    assert 'name="message_1"' in page


# The resumed run's approved tool calls run in parallel threads, each counting
# itself on its own connection: a transactional test lets them write.
@pytest.mark.django_db(transaction=True)
def test_deciding_each_call_resumes_and_the_agent_gets_the_rejection(
    operator_client: Client,
) -> None:
    pending = interrupted("tool_agent", input=AGENT_INPUT)
    edited = {"path": "c.txt", "content": "edited"}
    response = operator_client.post(
        detail(pending),
        decide(
            pending,
            decision_1="reject",
            message_1="not to ops, please",
            decision_2="edit",
            args_2=json.dumps(edited),
        ),
        follow=True,
    )
    assert "Decided (1 approved, 1 rejected, 1 edited)" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.RESUMED
    assert pending.resume_value == {
        "decisions": [
            {"type": "approve"},
            {"type": "reject", "message": "not to ops, please"},
            {"type": "edit", "edited_action": {"name": "write_file", "args": edited}},
        ]
    }
    assert AuditLog.objects.filter(
        action="interrupt.resume", resource_id=pending.pk, actor_id="bob"
    ).exists()

    drain()
    job = Job.objects.get(pk=pending.job_id)
    assert job.status == Job.Status.COMPLETED
    ai, *results, answer = job.result["messages"][1:]
    assert [c["args"] for c in ai["tool_calls"]][2] == edited
    by_call = {m["tool_call_id"]: (m["status"], m["content"]) for m in results}
    assert by_call == {
        "call_0_0": ("success", "wrote a.txt: first"),
        "call_0_1": ("error", "Tool call rejected by user. not to ops, please"),
        "call_0_2": ("success", "wrote c.txt: edited"),
    }
    assert "Tool call rejected by user. not to ops, please" in answer["content"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param(
            {"decision_1": "reject", "message_1": "  "},
            "a rejected call needs a message to the model",
            id="reject-without-a-message",
        ),
        pytest.param(
            {"decision_1": "edit", "args_1": '{"to": "me", "subject": "x"}'},
            "edit is not allowed for send_email (allowed: approve, reject)",
            id="a-decision-the-review-does-not-allow",
        ),
    ],
)
def test_a_refused_decision_is_a_form_error_and_resumes_nothing(
    operator_client: Client, fields: dict[str, str], error: str
) -> None:
    pending = interrupted("tool_agent", input=AGENT_INPUT)
    response = operator_client.post(detail(pending), decide(pending, **fields))
    assert response.status_code == 200
    assert error in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING
    assert pending.job.attempts.filter(kind=Attempt.Kind.RESUME).count() == 0


def test_deciding_each_call_needs_the_resolve_permission(
    viewer_client: Client,
) -> None:
    pending = interrupted("tool_agent", input=AGENT_INPUT)
    reader = make_user("dave")
    reader.user_permissions.add(Permission.objects.get(codename="view_interrupt"))
    reader_client = client_for(reader)
    page = reader_client.get(detail(pending)).content.decode()
    assert "You may read this interrupt but not answer it" in page
    assert 'id="calls-form"' not in page
    for client in (reader_client, viewer_client):
        response = client.post(detail(pending), decide(pending))
        assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_reject_needs_a_reason(operator_client: Client) -> None:
    pending = interrupted()
    response = operator_client.post(detail(pending), {"decision": "reject"})
    assert "a reason is required" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_reject_cancels_the_run_with_the_reason(operator_client: Client) -> None:
    pending = interrupted()
    operator_client.post(
        detail(pending), {"decision": "reject", "reason": "wrong audience"}
    )
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.REJECTED
    assert pending.reason == "wrong audience"
    pending.job.refresh_from_db()
    assert pending.job.status == Job.Status.CANCELLED


def test_a_double_submit_is_harmless(operator_client: Client) -> None:
    pending = interrupted()
    operator_client.post(detail(pending), {"decision": "approve"})
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    assert "You already resumed this interrupt" in response.content.decode()
    assert pending.job.attempts.filter(kind=Attempt.Kind.RESUME).count() == 1

    rejected = interrupted()
    operator_client.post(detail(rejected), {"decision": "reject", "reason": "no"})
    response = operator_client.post(
        detail(rejected), {"decision": "reject", "reason": "no"}, follow=True
    )
    assert "You already rejected this interrupt" in response.content.decode()


def test_someone_else_resolving_first_is_said_plainly(
    operator_client: Client, admin_client: Client
) -> None:
    pending = interrupted()
    admin_client.post(detail(pending), {"decision": "reject", "reason": "stop"})
    response = operator_client.post(
        detail(pending), {"decision": "approve"}, follow=True
    )
    body = response.content.decode()
    assert "Someone else resolved this interrupt first" in body
    assert "rejected by user:alice" in body
    assert "Your answer was not applied" in body
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.REJECTED


def test_approve_selected_action_answers_several(operator_client: Client) -> None:
    first, second = interrupted(), interrupted()
    interrupt_resume(interrupt=second, value=True, actor=Actor.system())
    response = operator_client.post(
        INBOX,
        {"action": "approve_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    body = response.content.decode()
    assert "Approved 1 interrupt(s)." in body
    assert "already resolved by someone else" in body
    first.refresh_from_db()
    assert first.status == Interrupt.Status.RESUMED


def test_every_answer_is_audited_with_the_staff_user_as_actor(
    operator_client: Client,
) -> None:
    pending = interrupted()
    operator_client.post(detail(pending), {"decision": "approve"})
    row = AuditLog.objects.get(action="interrupt.resume", resource_id=pending.pk)
    assert (row.actor_type, row.actor_id, row.actor_role) == ("user", "bob", "operator")


def test_an_admin_may_answer_too(admin_client: Client) -> None:
    pending = interrupted()
    admin_client.post(detail(pending), {"decision": "approve"})
    pending.refresh_from_db()
    assert pending.resolved_by == "user:alice"


def test_a_staff_user_outside_the_groups_sees_and_answers_nothing(
    viewer_client: Client,
) -> None:
    pending = interrupted()
    assert viewer_client.get(INBOX).status_code == 403
    assert viewer_client.get(detail(pending)).status_code == 403
    response = viewer_client.post(detail(pending), {"decision": "approve"})
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.status == Interrupt.Status.PENDING


def test_nobody_adds_or_deletes_interrupts(admin_client: Client) -> None:
    pending = interrupted()
    assert admin_client.get(reverse("admin:runtime_interrupt_add")).status_code == 403
    delete = reverse("admin:runtime_interrupt_delete", args=[pending.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Interrupt.objects.filter(pk=pending.pk).exists()


# Text both databases store (PostgreSQL's JSON refuses NUL and lone surrogates;
# the API refuses them before they reach a row).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=8,
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
TOOLISH = st.fixed_dictionaries(
    {
        "action_requests": JSON
        | st.lists(
            st.dictionaries(
                st.sampled_from(["name", "args", "description"]), JSON, max_size=3
            ),
            max_size=3,
        )
    },
    optional={
        "review_configs": JSON
        | st.lists(
            st.dictionaries(
                st.sampled_from(["action_name", "allowed_decisions"]), JSON, max_size=2
            ),
            max_size=3,
        )
    },
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payload=JSON | TOOLISH)
def test_no_payload_breaks_the_inbox_or_its_page(
    operator_client: Client, payload: object
) -> None:
    pending = Interrupt.objects.filter(status=Interrupt.Status.PENDING).first()
    pending = pending or interrupted("tool_review")
    Interrupt.objects.filter(pk=pending.pk).update(value=payload)
    assert operator_client.get(INBOX).status_code == 200
    assert operator_client.get(detail(pending)).status_code == 200


MALFORMED_APPROVALS = [
    {"action_requests": [{"name": "t"}], "review_configs": 5},
    {"action_requests": [{"name": "t"}], "review_configs": "approve"},
    {"action_requests": [{"name": "t"}], "review_configs": [{"action_name": ["t"]}]},
    {
        "action_requests": [{"name": ["t"], "args": 7}],
        "review_configs": [{"action_name": "t", "allowed_decisions": 3}],
    },
    {
        "action_requests": [{"name": "t", "args": "x", "description": {"a": 1}}],
        "review_configs": [{"action_name": "t", "allowed_decisions": [{}, None]}],
    },
    {"action_requests": [{"name": None}], "review_configs": [None, 1, "x"]},
]


@pytest.mark.parametrize("value", MALFORMED_APPROVALS)
def test_a_malformed_approval_payload_never_breaks_the_inbox(
    operator_client: Client, value: dict
) -> None:
    interrupt = interrupted()
    # The payload is the graph's to choose: store one no agent would send.
    Interrupt.objects.filter(pk=interrupt.pk).update(value=value)
    assert operator_client.get(INBOX).status_code == 200
    page = operator_client.get(detail(interrupt))
    assert page.status_code == 200
    assert 'id="action-requests"' in page.content.decode()
