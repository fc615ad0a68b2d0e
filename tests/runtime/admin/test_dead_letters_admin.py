from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from runtime.models import AuditLog, DeadLetter, Job
from runtime.services.audit import Actor
from runtime.services.dead_letters import dead_letter_replay
from tests.runtime.admin.conftest import dead_letter, drain

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:runtime_deadletter_changelist")


def detail(dead: DeadLetter) -> str:
    return reverse("admin:runtime_deadletter_change", args=[dead.pk])


def test_the_list_shows_reason_attempt_age_and_replay_status(
    operator_client: Client,
) -> None:
    dead = dead_letter()
    body = operator_client.get(QUEUE).content.decode()
    assert dead.attempt_id in body
    assert "terminal_failed" in body
    assert "pending" in body
    assert "boom: the tool server is down" in body
    assert "minute" in body


def test_the_detail_shows_error_traceback_and_last_state(
    operator_client: Client,
) -> None:
    dead = dead_letter()
    body = operator_client.get(detail(dead)).content.decode()
    assert "builtins.RuntimeError" in body
    assert "Traceback (most recent call last)" in body
    assert "&quot;prepared&quot;: &quot;inputs ready&quot;" in body
    assert 'id="replay-form"' in body


def test_replay_requeues_the_attempt_and_the_run_completes(
    operator_client: Client,
) -> None:
    dead = dead_letter("flaky")  # fails once, then succeeds
    response = operator_client.post(detail(dead), follow=True)
    assert "Replayed: the attempt is queued again." in response.content.decode()
    dead.refresh_from_db()
    assert dead.replay_status == DeadLetter.ReplayStatus.REPLAYED
    drain()
    dead.job.refresh_from_db()
    assert dead.job.status == Job.Status.COMPLETED
    row = AuditLog.objects.get(action="dlq.replay", resource_id=dead.pk)
    assert (row.actor_type, row.actor_id) == ("user", "bob")


def test_replaying_twice_is_harmless_and_said_plainly(
    operator_client: Client,
) -> None:
    dead = dead_letter()
    dead_letter_replay(dead_letter=dead, actor=Actor.system())
    response = operator_client.post(detail(dead), follow=True)
    assert "already replayed" in response.content.decode()
    dead.refresh_from_db()
    assert dead.replay_count == 1


def test_replaying_several_asks_for_confirmation_first(
    operator_client: Client,
) -> None:
    first, second = dead_letter(), dead_letter()
    selected = {"action": "replay_selected", "_selected_action": [first.pk, second.pk]}
    response = operator_client.post(QUEUE, selected)
    body = response.content.decode()
    assert "Replay these dead letters?" in body
    assert first.attempt_id in body
    assert second.attempt_id in body
    first.refresh_from_db()
    assert first.replay_status == DeadLetter.ReplayStatus.PENDING

    response = operator_client.post(QUEUE, {**selected, "post": "yes"}, follow=True)
    assert "Replayed 2 dead letter(s)." in response.content.decode()
    statuses = set(DeadLetter.objects.values_list("replay_status", flat=True))
    assert statuses == {DeadLetter.ReplayStatus.REPLAYED}


def test_a_staff_user_outside_the_groups_cannot_see_or_replay(
    viewer_client: Client,
) -> None:
    dead = dead_letter()
    assert viewer_client.get(QUEUE).status_code == 403
    assert viewer_client.post(detail(dead)).status_code == 403
    dead.refresh_from_db()
    assert dead.replay_status == DeadLetter.ReplayStatus.PENDING


def test_an_admin_may_replay(admin_client: Client) -> None:
    dead = dead_letter()
    admin_client.post(detail(dead))
    dead.refresh_from_db()
    assert dead.replay_status == DeadLetter.ReplayStatus.REPLAYED
