"""The admin index (counts, what each group sees) and the groups' migration."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from runtime.services.interrupts import interrupt_resume
from tests.factories import ALICE, make_job
from tests.runtime.admin.conftest import dead_letter, interrupted

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def count(body: str, key: str) -> str:
    start = body.index(f'id="count-{key}"')
    value_start = body.index('<span class="oris-count">', start) + len(
        '<span class="oris-count">'
    )
    return body[value_start : body.index("</span>", value_start)]


def test_the_index_counts_what_waits_and_what_runs(operator_client: Client) -> None:
    interrupted()
    interrupted()
    answered = interrupted()
    dead_letter()
    interrupt_resume(interrupt=answered, value=True, actor=ALICE)  # queued again
    make_job("chain")
    body = operator_client.get(INDEX).content.decode()
    assert count(body, "pending_interrupts") == "2"
    assert count(body, "pending_dead_letters") == "1"
    assert count(body, "running") == "0"
    assert count(body, "queued") == "2"
    assert count(body, "failed_24h") == "1"
    assert "?status__exact=pending" in body


def test_an_operator_sees_runs_but_not_api_keys(operator_client: Client) -> None:
    body = operator_client.get(INDEX).content.decode()
    for model in ("job", "interrupt", "deadletter", "auditlog"):
        assert reverse(f"admin:runtime_{model}_changelist") in body
    assert reverse("admin:runtime_apikey_changelist") not in body


def test_an_admin_sees_everything(admin_client: Client) -> None:
    body = admin_client.get(INDEX).content.decode()
    for model in ("job", "interrupt", "deadletter", "auditlog", "apikey"):
        assert reverse(f"admin:runtime_{model}_changelist") in body
    assert reverse("admin:runtime_apikey_add") in body


def test_a_staff_user_outside_the_groups_sees_nothing(viewer_client: Client) -> None:
    body = viewer_client.get(INDEX).content.decode()
    assert "oris-counts" not in body
    assert "/admin/runtime/" not in body


def test_anonymous_users_are_sent_to_the_login_page(client: Client) -> None:
    response = client.get(reverse("admin:runtime_interrupt_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_the_migration_creates_both_groups_without_api_keys_for_operators() -> None:
    admin = set(
        Group.objects.get(name="oris-admin").permissions.values_list(
            "codename", flat=True
        )
    )
    operator = set(
        Group.objects.get(name="oris-operator").permissions.values_list(
            "codename", flat=True
        )
    )
    assert {"add_apikey", "change_apikey", "change_interrupt", "view_auditlog"} <= admin
    assert "delete_auditlog" not in admin
    assert {"change_interrupt", "change_deadletter", "change_job"} <= operator
    assert not {p for p in operator if p.endswith("apikey")}
