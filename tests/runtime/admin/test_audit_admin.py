from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from runtime.models import AuditLog
from runtime.services.api_keys import api_key_create
from tests.factories import ALICE, make_job

pytestmark = pytest.mark.django_db

LOG = reverse("admin:runtime_auditlog_changelist")


def test_the_log_is_listed_and_filterable(operator_client: Client) -> None:
    make_job("chain")
    api_key_create(actor=ALICE, role="worker")
    body = operator_client.get(LOG).content.decode()
    assert "job.run" in body
    assert "api_key.create" in body
    body = operator_client.get(LOG, {"action": "job.run"}).content.decode()
    assert "job.run" in body
    assert "api_key.create</td>" not in body
    assert operator_client.get(LOG, {"q": "alice"}).status_code == 200


def test_the_log_is_read_only_and_deletable_by_no_one(admin_client: Client) -> None:
    make_job("chain")
    row = AuditLog.objects.get()
    change = reverse("admin:runtime_auditlog_change", args=[row.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert admin_client.post(change, {"action": "x"}).status_code == 403
    delete = reverse("admin:runtime_auditlog_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        LOG, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert (
        reverse("admin:runtime_auditlog_add")
        not in admin_client.get(LOG).content.decode()
    )
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_a_superuser_cannot_delete_it_either(db: None) -> None:
    from tests.runtime.admin.conftest import client_for, make_user

    root = client_for(make_user("root", superuser=True))
    make_job("chain")
    row = AuditLog.objects.get()
    delete = reverse("admin:runtime_auditlog_delete", args=[row.pk])
    assert root.post(delete, {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_a_staff_user_outside_the_groups_cannot_read_it(viewer_client: Client) -> None:
    assert viewer_client.get(LOG).status_code == 403
