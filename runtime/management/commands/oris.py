"""``manage.py oris``: run, inspect, resume and cancel jobs from the shell.

It calls the same services as the API and the console, as the ``system`` actor.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from runtime import registry, selectors
from runtime.errors import OrisError
from runtime.models import Job
from runtime.services import interrupts, jobs
from runtime.services.audit import Actor


def parse_json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{option} is not valid JSON: {exc}") from None


class Command(BaseCommand):
    help = "Run and operate Oris jobs: run, status, resume, cancel, list, graphs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="start a job of a registered graph")
        run.add_argument("graph")
        run.add_argument(
            "--input", default="{}", help="JSON input (a string is a message)"
        )
        run.add_argument(
            "--thread", default=None, help="thread id (default: generated)"
        )
        run.add_argument("--wait", action="store_true", help="wait until it settles")
        run.add_argument("--timeout", type=float, default=60.0)
        status = sub.add_parser("status", help="show a job, its interrupts and state")
        status.add_argument("thread")
        resume = sub.add_parser("resume", help="answer a job's pending interrupt")
        resume.add_argument("thread")
        resume.add_argument("--value", default="true", help="JSON answer")
        resume.add_argument("--interrupt", default=None, help="interrupt id")
        resume.add_argument(
            "--reason", default="", help="why (when the interrupt's policy asks)"
        )
        resume.add_argument("--wait", action="store_true")
        resume.add_argument("--timeout", type=float, default=60.0)
        cancel = sub.add_parser("cancel", help="cancel a job")
        cancel.add_argument("thread")
        cancel.add_argument("--reason", default="")
        listing = sub.add_parser("list", help="list recent jobs")
        listing.add_argument("--status", default="")
        listing.add_argument("--limit", type=int, default=20)
        sub.add_parser("graphs", help="list registered graphs")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            getattr(self, f"do_{action}")(**options)
        except OrisError as exc:
            raise CommandError(exc.message) from None

    def do_run(
        self,
        *,
        graph: str,
        input: str,
        thread: str | None,
        wait: bool,
        timeout: float,
        **_: Any,
    ) -> None:
        job = jobs.job_create(
            graph=graph,
            input=parse_json(input, "--input"),
            thread_id=thread,
            actor=Actor.system(),
        )
        self.stdout.write(f"{job.thread_id} {job.status}")
        if wait:
            self._wait(job, timeout)

    def do_status(self, *, thread: str, **_: Any) -> None:
        job = selectors.job_get(thread_id=thread)
        self.stdout.write(json.dumps(self._describe(job), indent=2, default=str))

    def do_resume(
        self,
        *,
        thread: str,
        value: str,
        interrupt: str | None,
        reason: str,
        wait: bool,
        timeout: float,
        **_: Any,
    ) -> None:
        answer = parse_json(value, "--value")
        job = selectors.job_get(thread_id=thread)
        pending = list(selectors.interrupt_list_pending(job=job))
        if interrupt:
            pending = [i for i in pending if i.pk == interrupt]
        if not pending:
            raise CommandError(
                f"job '{thread}' has no pending interrupt (it is {job.status})"
            )
        if len(pending) > 1:
            ids = ", ".join(i.pk for i in pending)
            raise CommandError(
                f"job '{thread}' waits on several interrupts; "
                f"choose one with --interrupt ({ids})"
            )
        interrupts.interrupt_resume(
            interrupt=pending[0], value=answer, actor=Actor.system(), reason=reason
        )
        job = selectors.job_get(thread_id=thread)
        self.stdout.write(f"{job.thread_id} {job.status}")
        if wait:
            self._wait(job, timeout)

    def do_cancel(self, *, thread: str, reason: str, **_: Any) -> None:
        job = jobs.job_cancel(
            job=selectors.job_get(thread_id=thread), actor=Actor.system(), reason=reason
        )
        self.stdout.write(f"{job.thread_id} {job.status}")

    def do_list(self, *, status: str, limit: int, **_: Any) -> None:
        for job in selectors.job_list(status=status, limit=limit):
            self.stdout.write(
                f"{job.thread_id}\t{job.graph}\t{job.status}\t"
                f"{job.updated_at:%Y-%m-%d %H:%M:%S}"
            )

    def do_graphs(self, **_: Any) -> None:
        for name in registry.graph_names():
            self.stdout.write(name)

    def _wait(self, job: Job, timeout: float) -> None:
        selectors.job_wait_settled(job=job, wait_ms=int(timeout * 1000))
        job = selectors.job_get(thread_id=job.thread_id)
        if job.status not in selectors.SETTLED:
            raise CommandError(
                f"job '{job.thread_id}' is still {job.status} "
                f"after {timeout:g}s; is the cluster running "
                "(make run)?"
            )
        self.stdout.write(json.dumps(self._describe(job), indent=2, default=str))

    def _describe(self, job: Job) -> dict[str, Any]:
        return {
            "thread_id": job.thread_id,
            "graph": job.graph,
            "status": job.status,
            "pending_interrupts": [
                {"interrupt_id": i.pk, "value": i.value}
                for i in selectors.interrupt_list_pending(job=job)
            ],
            "result": job.result,
            "error": (job.error or {}).get("message"),
            "attempts": selectors.job_attempts(job=job).count(),
            "updated_at": job.updated_at,
        }
