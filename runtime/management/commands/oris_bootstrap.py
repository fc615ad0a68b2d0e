"""Idempotent first-run setup: the console's admin user and the demo job.

What it did is printed last, in one framed block (`make run` shows it after the
web server is up, so it is the last thing on the first screen).
"""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from runtime.models import Job
from runtime.services.audit import Actor
from runtime.services.jobs import job_create

DEMO_THREAD = "demo-approval"
RULE = "=" * 72


def console_url() -> str:
    base = settings.ORIS_PUBLIC_URL or f"http://{settings.ORIS_SERVER_ADDR}"
    return f"{base}/admin/"


def framed(lines: list[str]) -> str:
    return "\n".join([RULE, *(f"  {line}".rstrip() for line in lines), RULE])


class Command(BaseCommand):
    help = (
        "Creates the admin user once (ORIS_ADMIN_USER, default 'admin'); its password "
        "is ORIS_ADMIN_PASSWORD, or a generated one printed this one time."
    )

    def handle(self, *args: object, **options: object) -> None:
        lines = [f"Oris console   {console_url()}", *self._admin_user()]
        if os.environ.get("ORIS_DEMO", "true").lower() not in ("0", "false", "no"):
            lines += self._demo_job()
        self.stdout.write(self.style.SUCCESS(framed(lines)))

    def _demo_job(self) -> list[str]:
        if Job.objects.filter(thread_id=DEMO_THREAD).exists():
            return []
        job_create(
            graph="approval",
            input={"topic": "durable execution"},
            thread_id=DEMO_THREAD,
            actor=Actor.system(),
        )
        return [
            "",
            f"The demo run {DEMO_THREAD!r} waits for your approval in the console",
            f"(Interrupts), or: .venv/bin/oris resume {DEMO_THREAD} --approve",
        ]

    def _admin_user(self) -> list[str]:
        username = os.environ.get("ORIS_ADMIN_USER", "admin")
        users = get_user_model()
        if users.objects.filter(username=username).exists():
            return [f"admin user     {username} (exists; its password is unchanged)"]
        password = os.environ.get("ORIS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.objects.create_superuser(
            username=username,
            email=os.environ.get("ORIS_ADMIN_EMAIL", ""),
            password=password,
        )
        if "ORIS_ADMIN_PASSWORD" in os.environ:
            return [f"admin user     {username} (password: ORIS_ADMIN_PASSWORD)"]
        return [
            f"admin user     {username}",
            f"password       {password}   (shown this once; change it in the console)",
        ]
