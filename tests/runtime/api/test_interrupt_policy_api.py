"""Approval policies over /v1/interrupts/*/resume and /reject: the same rules as
the console, in the API's error shape (403 not an assignee, 409 already decided,
400 reason missing), with quorum votes from distinct keys."""

from __future__ import annotations

from typing import Any

import pytest

from graphs import InterruptPolicy
from runtime.models import AuditLog, Interrupt
from runtime.services import interrupts
from runtime.services.audit import Actor
from tests.runtime.api.conftest import assert_contract, assert_error, keyed_client
from tests.runtime.policy_graphs import paused, register

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _policy_graphs(_test_graphs: None, settings) -> None:
    register(settings)


def resume(client: Any, interrupt: Interrupt, value: Any = True, **body: Any) -> Any:
    return client.post(
        f"/v1/interrupts/{interrupt.pk}/resume", {"value": value, **body}, format="json"
    )


def test_a_key_the_policy_does_not_assign_gets_403(alice_admin, bob_operator) -> None:
    found = paused(InterruptPolicy(assignee="api_key:bob"))
    error = assert_error(resume(alice_admin, found), 403, "forbidden")
    assert error["details"]["assignee"] == "api_key:bob"
    refused = AuditLog.objects.get(action="interrupt.resume", result="error")
    assert (refused.actor_id, refused.resource_id) == ("alice", found.pk)
    rejected = alice_admin.post(
        f"/v1/interrupts/{found.pk}/reject", {"reason": "no"}, format="json"
    )
    assert_error(rejected, 403, "forbidden")
    data = assert_contract(resume(bob_operator, found), "ApiEnvelope_RunJobResponse")
    assert data["data"]["status"] == "queued"


def test_a_group_policy_admits_the_keys_of_that_role(alice_admin, bob_operator) -> None:
    found = paused(InterruptPolicy(group="oris-admin"))
    assert_error(resume(bob_operator, found), 403, "forbidden")
    assert resume(alice_admin, found).status_code == 200


def test_a_required_reason_missing_is_400(bob_operator) -> None:
    found = paused(InterruptPolicy(reason_required=True))
    error = assert_error(resume(bob_operator, found), 400, "invalid_argument")
    assert "reason" in error["details"]["fields"]
    rejected = bob_operator.post(f"/v1/interrupts/{found.pk}/reject", {}, format="json")
    assert_error(rejected, 400, "invalid_argument")
    assert resume(bob_operator, found, reason="checked the diff").status_code == 200
    assert Interrupt.objects.get(pk=found.pk).reason == "checked the diff"


def test_a_quorum_of_two_needs_two_distinct_keys(bob_operator) -> None:
    carl = keyed_client("operator", "carl")
    found = paused(InterruptPolicy(group="oris-operator", quorum=2))
    first = assert_contract(resume(bob_operator, found), "ApiEnvelope_RunJobResponse")
    assert first["data"]["status"] == "interrupted"  # one vote: the run still waits
    assert resume(bob_operator, found).json()["data"]["status"] == "interrupted"
    assert_error(resume(carl, found, value=False), 409, "conflict")  # must agree
    detail = bob_operator.get(f"/v1/interrupts/{found.pk}").json()["data"]
    assert [v["voter"] for v in detail["policy"]["votes"]] == ["api_key:bob"]
    assert detail["policy"]["declared"]["quorum"] == 2
    second = resume(carl, found)
    assert second.json()["data"]["status"] == "queued"
    assert resume(carl, found).status_code == 200  # the same answer: harmless
    assert_error(resume(carl, found, value=False), 409, "conflict")  # decided


def test_a_rejection_ends_a_quorum_and_later_answers_are_409(bob_operator) -> None:
    carl = keyed_client("operator", "carl")
    found = paused(InterruptPolicy(quorum=2))
    resume(bob_operator, found)
    rejected = carl.post(
        f"/v1/interrupts/{found.pk}/reject", {"reason": "risky"}, format="json"
    )
    cancelled = assert_contract(rejected, "ApiEnvelope_CancelJobResponse")["data"]
    assert cancelled["status"] == "cancelled"
    assert_error(resume(carl, found), 409, "conflict")


def test_a_console_claim_holds_over_the_api(bob_operator) -> None:
    found = paused(InterruptPolicy(group="oris-operator"))
    interrupts.interrupt_claim(
        interrupt=found, actor=Actor(type="api_key", id="carl", role="operator")
    )
    error = assert_error(resume(bob_operator, found), 403, "forbidden")
    assert error["details"]["claimed_by"] == "api_key:carl"


def test_the_job_resume_route_enforces_the_same_policy(alice_admin) -> None:
    found = paused(InterruptPolicy(assignee="api_key:bob"), thread_id="pj1")
    response = alice_admin.post("/v1/jobs/pj1/resume", {"value": True}, format="json")
    assert_error(response, 403, "forbidden")
    assert Interrupt.objects.get(pk=found.pk).status == Interrupt.Status.PENDING


def test_an_expired_interrupt_is_409(bob_operator) -> None:
    found = paused(InterruptPolicy(timeout=60))
    interrupts.interrupt_expire_due(at=found.deadline_at)
    error = assert_error(resume(bob_operator, found), 409, "conflict")
    assert error["details"]["status"] == "rejected"


def test_policy_routes_still_need_credentials_and_scope(
    stranger, walter_worker
) -> None:
    found = paused(InterruptPolicy(quorum=2))
    assert_error(resume(stranger, found), 401, "unauthorized")
    assert_error(resume(walter_worker, found), 403, "forbidden")
    assert not found.votes.exists()
