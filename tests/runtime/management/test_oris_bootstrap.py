from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from runtime.models import Job

pytestmark = pytest.mark.django_db


def bootstrap() -> str:
    out = io.StringIO()
    call_command("oris_bootstrap", stdout=out)
    return out.getvalue()


def test_it_creates_the_admin_with_the_given_password(monkeypatch) -> None:
    monkeypatch.setenv("ORIS_ADMIN_PASSWORD", "correct horse battery")
    output = bootstrap()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("correct horse battery")
    assert "correct horse battery" not in output


def test_it_prints_a_generated_password_once(monkeypatch) -> None:
    monkeypatch.delenv("ORIS_ADMIN_PASSWORD", raising=False)
    first = bootstrap()
    password = first.split("password ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    second = bootstrap()
    assert password not in second
    assert "exists" in second
    assert get_user_model().objects.filter(username="admin").count() == 1


def test_it_starts_the_demo_job_once() -> None:
    bootstrap()
    bootstrap()
    job = Job.objects.get(thread_id="demo-approval")
    assert (job.graph, job.status) == ("approval", "queued")


def test_the_demo_can_be_switched_off(monkeypatch) -> None:
    monkeypatch.setenv("ORIS_DEMO", "false")
    bootstrap()
    assert not Job.objects.exists()
