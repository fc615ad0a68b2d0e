"""Idempotent first-run setup: the console's admin user and the demo job."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from runtime.models import Job
from runtime.services.audit import Actor
from runtime.services.jobs import job_create

DEMO_THREAD = "demo-approval"


class Command(BaseCommand):
    help = (
        "Creates the admin user once (ORIS_ADMIN_USER, default 'admin'); its password "
        "is ORIS_ADMIN_PASSWORD, or a generated one printed this one time."
    )

    def handle(self, *args: object, **options: object) -> None:
        self._admin_user()
        if os.environ.get("ORIS_DEMO", "true").lower() not in ("0", "false", "no"):
            self._demo_job()

    def _demo_job(self) -> None:
        if Job.objects.filter(thread_id=DEMO_THREAD).exists():
            return
        job_create(
            graph="approval",
            input={"topic": "durable execution"},
            thread_id=DEMO_THREAD,
            actor=Actor.system(),
        )
        self.stdout.write(
            f"Started the demo job {DEMO_THREAD!r}: it will wait for your approval "
            "in the console, or run\n"
            f"  .venv/bin/python manage.py oris resume {DEMO_THREAD} --value true"
        )

    def _admin_user(self) -> None:
        username = os.environ.get("ORIS_ADMIN_USER", "admin")
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} exists; leaving it unchanged.")
            return
        password = os.environ.get("ORIS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.objects.create_superuser(
            username=username,
            email=os.environ.get("ORIS_ADMIN_EMAIL", ""),
            password=password,
        )
        if "ORIS_ADMIN_PASSWORD" in os.environ:
            self.stdout.write(f"Created admin user {username!r} (ORIS_ADMIN_PASSWORD).")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin user {username!r} with password {password}\n"
                    "It is shown only this once; change it in the console."
                )
            )
