"""``manage.py oris`` (and the ``oris`` console script): run, inspect, answer and
operate jobs from the shell.

It calls the same services, selectors and presenters as the API and the console,
as the ``shell`` actor: the audit trail names the operating-system user who
ran the command. Every command prints a readable answer, or with
``--json`` exactly one JSON document on stdout; messages and ``--wait``'s
progress go to stderr. Exit codes are in ``runtime.cli``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from runtime import cli, present, registry, selectors
from runtime.errors import OrisError
from runtime.models import Job
from runtime.selectors import effects as effect_selectors
from runtime.services import forks, interrupts, jobs, replays, retention, runs
from runtime.services.audit import Actor
from runtime.services.dead_letters import dead_letter_replay

POLL_SECONDS = 0.25
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY")


class Error(CommandError):
    """What the command refuses or reports, with its exit code (default 2: bad
    input or a wrong state); Django prints it as ``Error: message``."""

    def __init__(
        self,
        message: str,
        *,
        returncode: int = cli.EXIT_USAGE,
        details: Any = None,
        printed: bool = False,
    ) -> None:
        super().__init__(message, returncode=returncode)
        self.details = details
        self.printed = printed  # the answer is on stdout already (a waited run's)


def parse_json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Error(f"{option} is not valid JSON: {exc}") from None


class Command(BaseCommand):
    help = (
        "Run and operate Oris jobs: run, status, resume, cancel, list, logs, "
        "replay, replaytest, effects, fork, compare, interrupts, dlq, graphs, "
        "config, prune. " + cli.EXIT_CODES_HELP + "."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if not prog_name:  # the console script: `oris run`, not `manage.py oris run`
            parser.prog = "oris"
        parser.epilog = cli.EXIT_CODES_HELP
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--json", action="store_true", help="print one JSON document on stdout"
        )
        waiting = argparse.ArgumentParser(add_help=False)
        waiting.add_argument(
            "--wait", action="store_true", help="wait until the run settles"
        )
        waiting.add_argument(
            "--timeout", type=float, default=60.0, help="seconds to wait (60)"
        )
        sub = parser.add_subparsers(dest="action", required=True)

        def command(name: str, help: str, *parents: argparse.ArgumentParser) -> Any:
            family: Any = [common, *parents]  # argparse parents, not CommandParsers
            return sub.add_parser(name, help=help, parents=family)

        run = command("run", "start a job of a registered graph", waiting)
        run.add_argument("graph")
        run.add_argument(
            "--input", default=None, help="JSON input (a string is a message)"
        )
        run.add_argument(
            "--thread", default=None, help="thread id (default: generated)"
        )
        run.add_argument("--priority", type=int, default=0, help="0..100")
        status = command("status", "show a job, its interrupts, result or error")
        status.add_argument("thread")
        resume = command("resume", "answer a job's pending interrupt", waiting)
        resume.add_argument("thread")
        answer = resume.add_mutually_exclusive_group(required=True)
        answer.add_argument("--value", default=None, help="the answer, as JSON")
        answer.add_argument(
            "--approve", action="store_true", help="approve (true, or each tool call)"
        )
        answer.add_argument(
            "--reject", action="store_true", help="reject (needs --reason): cancels"
        )
        resume.add_argument(
            "--reason",
            default="",
            help="why: needed with --reject, and when the interrupt's policy asks",
        )
        resume.add_argument("--interrupt", default=None, help="interrupt id")
        cancel = command("cancel", "cancel a job")
        cancel.add_argument("thread")
        cancel.add_argument("--reason", default="")
        listing = command("list", "list recent jobs")
        listing.add_argument("--status", default="")
        listing.add_argument("--limit", type=int, default=20)
        logs = command("logs", "a job's timeline: attempts, interrupts, actions")
        logs.add_argument("thread")
        replay = command("replay", "replay a settled job (live, or --recorded)")
        replay.add_argument("thread")
        replay.add_argument(
            "--recorded",
            action="store_true",
            help="answer every effect from the ledger; report the first divergence",
        )
        replay.add_argument("--checkpoint", default="", help="live: from this one")
        replaytest = command(
            "replaytest", "recorded replays of recorded runs (exit 1 on a divergence)"
        )
        replaytest.add_argument(
            "--thread", action="append", default=[], help="a job (repeatable)"
        )
        replaytest.add_argument("--graph", default="", help="latest jobs of a graph")
        replaytest.add_argument("--limit", type=int, default=20)
        effects = command("effects", "a job's effects: model and tool calls")
        effects.add_argument("thread")
        fork = command("fork", "fork a job at a checkpoint with overrides", waiting)
        fork.add_argument("thread")
        fork.add_argument("--checkpoint", required=True)
        fork.add_argument("--model", default=None)
        fork.add_argument("--temperature", type=float, default=None)
        fork.add_argument("--system-prompt", default=None)
        fork.add_argument(
            "--tool-result",
            action="append",
            default=[],
            metavar="TOOL=JSON",
            help="answer this tool with this result (repeatable)",
        )
        compare = command("compare", "a job and its fork side by side")
        compare.add_argument("thread")
        compare.add_argument("fork")
        found = command("interrupts", "list or show interrupts")
        found_sub = found.add_subparsers(dest="what", required=True)
        found_list = found_sub.add_parser("list", parents=[common], help="list them")
        found_list.add_argument("--status", default="pending", help="'' for all")
        found_list.add_argument("--thread", default="")
        found_list.add_argument("--limit", type=int, default=50)
        found_show = found_sub.add_parser("show", parents=[common], help="show one")
        found_show.add_argument("interrupt_id")
        dlq = command("dlq", "list or replay dead letters")
        dlq_sub = dlq.add_subparsers(dest="what", required=True)
        dlq_list = dlq_sub.add_parser("list", parents=[common], help="list them")
        dlq_list.add_argument("--status", default="", help="pending or replayed")
        dlq_list.add_argument("--limit", type=int, default=50)
        dlq_replay = dlq_sub.add_parser("replay", parents=[common], help="replay one")
        dlq_replay.add_argument("attempt_id")
        graphs = command("graphs", "list registered graphs, or show one")
        graphs.add_argument("--show", default=None, metavar="NAME")
        command("config", "the effective configuration (secrets masked)")
        prune = command("prune", "apply retention policies to finished threads")
        prune.add_argument(
            "--dry-run", action="store_true", help="report what would go, delete none"
        )
        prune.add_argument(
            "--batch", type=int, default=None, help="jobs per transaction"
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        self.as_json = options["json"]
        name = f"do_{action}" + (f"_{options['what']}" if options.get("what") else "")
        try:
            getattr(self, name)(**options)
        except OrisError as exc:
            known = (exc.details or {}).get("known_graphs") if exc.details else None
            message = exc.message + (
                f"; known graphs: {', '.join(known)}" if known else ""
            )
            self.refuse(Error(message, details=exc.details), code=exc.code)
        except Error as exc:
            if exc.printed:
                raise
            self.refuse(exc, code="invalid_argument")

    def refuse(self, exc: Error, *, code: str) -> None:
        if self.as_json:
            error = {"code": code, "message": str(exc), "details": exc.details}
            self.stdout.write(cli.to_json({"error": error}))
        raise exc

    def emit(self, data: Any, human: str) -> None:
        self.stdout.write(cli.to_json(data) if self.as_json else human)

    # --- runs ------------------------------------------------------------------------

    def do_run(
        self, *, graph: str, input: str | None, thread: str | None, **o: Any
    ) -> None:
        value = None if input is None else parse_json(input, "--input")
        result = runs.job_run(
            actor=Actor.shell(),
            graph=graph,
            input=value,
            thread_id=thread,
            priority=o["priority"],
        )
        self.settle(result.job, o)

    def do_status(self, *, thread: str, **_: Any) -> None:
        job = selectors.job_get(thread_id=thread)
        self.emit(self.describe(job), self.summary(job))

    def do_resume(self, *, thread: str, **o: Any) -> None:
        job = selectors.job_get(thread_id=thread)
        pending = list(selectors.interrupt_list_pending(job=job))
        if o["interrupt"]:
            pending = [i for i in pending if i.pk == o["interrupt"]]
        if not pending:
            raise Error(f"job '{thread}' has no pending interrupt (it is {job.status})")
        if len(pending) > 1:
            ids = ", ".join(i.pk for i in pending)
            raise Error(
                f"job '{thread}' waits on several interrupts; "
                f"choose one with --interrupt ({ids})"
            )
        found = pending[0]
        if o["reject"]:
            if not o["reason"].strip():
                raise Error("--reject needs --reason (it is recorded in the audit log)")
            interrupts.interrupt_reject(
                interrupt=found, actor=Actor.shell(), reason=o["reason"]
            )
        else:
            value = (
                approval(found.value)
                if o["approve"]
                else parse_json(o["value"], "--value")
            )
            interrupts.interrupt_resume(
                interrupt=found, value=value, actor=Actor.shell(), reason=o["reason"]
            )
        self.settle(selectors.job_get(thread_id=thread), o)

    def do_cancel(self, *, thread: str, reason: str, **_: Any) -> None:
        job = selectors.job_get(thread_id=thread)
        if job.status != Job.Status.CANCELLED:  # again: answered as the first time
            job = jobs.job_cancel(job=job, actor=Actor.shell(), reason=reason)
        data = present.job_cancel(job, reason or None)
        note = "" if data["status"] == "cancelled" else " (it stops at its next step)"
        self.emit(data, f"{job.thread_id} {data['status']}{note}")

    def do_list(self, *, status: str, limit: int, **_: Any) -> None:
        data = present.job_list(selectors.job_list(status=status, limit=limit))
        rows = [
            (j["thread_id"], j["graph"], j["status"], j["updated_at"])
            for j in data["jobs"]
        ]
        self.emit(data, cli.table(rows, ["thread", "graph", "status", "updated"]))

    def do_logs(self, *, thread: str, **_: Any) -> None:
        job = selectors.job_get(thread_id=thread)
        events = [
            {"at": present.rfc3339(e.at), "kind": e.kind, "text": e.text}
            for e in selectors.job_timeline(job=job)
        ]
        rows = [(e["at"], e["kind"], e["text"]) for e in events]
        self.emit(
            {"thread_id": job.thread_id, "events": events},
            cli.table(rows, ["at", "kind", "event"]),
        )

    def do_prune(self, *, dry_run: bool, batch: int | None, **_: Any) -> None:
        if batch is not None and batch < 1:
            raise Error("--batch must be at least 1")
        report = retention.prune(dry_run=dry_run, batch=batch).as_dict()
        verb = "would delete" if dry_run else "deleted"
        human = cli.fields(
            [
                ("threads deleted", report["threads_deleted"]),
                ("threads pruned", report["threads_pruned"]),
                ("threads skipped", report["threads_skipped"] or None),
                ("checkpoints", report["checkpoints"]),
                ("blobs", report["blobs"]),
                ("writes", report["writes"]),
                ("chains compacted", report["chains_compacted"]),
                ("seconds", report["seconds"]),
            ]
        )
        self.emit(report, f"retention ({verb}):\n{human}")

    # --- interrupts, dead letters ----------------------------------------------------

    def do_interrupts_list(
        self, *, status: str, thread: str, limit: int, **_: Any
    ) -> None:
        found = selectors.interrupt_list(status=status, run_id=thread, limit=limit)
        data = present.interrupt_list(found)
        rows = [
            (
                i["interrupt_id"],
                i["thread_id"],
                i["status"],
                i["created_at"],
                cli.short(i["value"]),
            )
            for i in data["interrupts"]
        ]
        self.emit(
            data, cli.table(rows, ["interrupt", "thread", "status", "created", "value"])
        )

    def do_interrupts_show(self, *, interrupt_id: str, **_: Any) -> None:
        data = present.interrupt_detail(
            selectors.interrupt_get(interrupt_id=interrupt_id)
        )
        pairs = [
            (k, data[k])
            for k in ("interrupt_id", "thread_id", "status", "created_at", "attempt_id")
        ]
        human = cli.fields(pairs) + "\nvalue:\n" + cli.to_json(data["value"])
        self.emit(data, human)

    def do_dlq_list(self, *, status: str, limit: int, **_: Any) -> None:
        data = present.dead_letter_list(
            selectors.dead_letter_list(replay_status=status, limit=limit)
        )
        rows = [
            (
                e["attempt_id"],
                e["run_id"],
                e["attempt_no"],
                e["terminal_status"],
                cli.short(e["reason"], 40),
                e["dead_at"],
                f"{e['replay_status']} ({e['replay_count']})",
            )
            for e in data["entries"]
        ]
        headers = ["attempt", "thread", "no", "status", "reason", "dead at", "replay"]
        self.emit(data, cli.table(rows, headers))

    def do_dlq_replay(self, *, attempt_id: str, **_: Any) -> None:
        entry = dead_letter_replay(
            dead_letter=selectors.dead_letter_get(attempt_id=attempt_id),
            actor=Actor.shell(),
        )
        data = present.dead_letter_replayed(entry)
        self.emit(data, f"{entry.attempt_id} requeued (replay #{entry.replay_count})")

    # --- effects: replay, forks ------------------------------------------------------

    def do_replay(self, *, thread: str, recorded: bool, checkpoint: str, **_: Any):
        job = selectors.job_get(thread_id=thread)
        if not recorded:
            data = runs.job_replay_once(
                job=job, actor=Actor.shell(), checkpoint_id=checkpoint
            )
            self.emit(data, f"{thread} replay queued ({data.get('status')})")
            return
        report = replays.job_replay_recorded(job=job)
        self.emit(present.replay_report(report), replay_line(report))
        if report.status != "reproduced":
            raise Error("the replay diverged", returncode=1, printed=True)

    def do_replaytest(
        self, *, thread: list[str], graph: str, limit: int, **_: Any
    ) -> None:
        reports = replays.replay_test(graph=graph, thread_ids=thread, limit=limit)
        data = {"reports": [present.replay_report(r) for r in reports]}
        self.emit(data, "\n".join(replay_line(r) for r in reports) or "(no runs)")
        diverged = [r for r in reports if r.status != "reproduced"]
        if diverged:
            raise CommandError(f"{len(diverged)} of {len(reports)} diverged")

    def do_effects(self, *, thread: str, **_: Any) -> None:
        job = selectors.job_get(thread_id=thread)
        data = present.job_effects(job, effect_selectors.job_effects(job=job))
        rows = [
            (
                e["step"],
                e["kind"],
                e["name"],
                e["outcome"],
                e["usage"].get("total_tokens", ""),
                e["cost_usd"],
                e["duration_ms"],
                e["key"],
            )
            for e in data["effects"]
        ]
        headers = ["step", "kind", "name", "outcome", "tokens", "cost", "ms", "key"]
        self.emit(data, cli.table(rows, headers))

    def do_fork(self, *, thread: str, checkpoint: str, **o: Any) -> None:
        overrides: dict[str, Any] = {}
        if o["model"]:
            overrides["model"] = o["model"]
        if o["temperature"] is not None:
            overrides["temperature"] = o["temperature"]
        if o["system_prompt"] is not None:
            overrides["system_prompt"] = o["system_prompt"]
        for item in o["tool_result"]:
            name, sep, value = item.partition("=")
            if not sep:
                raise Error("--tool-result needs TOOL=JSON")
            results = overrides.setdefault("tool_results", {})
            results[name] = parse_json(value, "--tool-result")
        fork = forks.job_fork(
            job=selectors.job_get(thread_id=thread),
            actor=Actor.shell(),
            checkpoint_id=checkpoint,
            overrides=overrides,
        )
        self.settle(fork, o)

    def do_compare(self, *, thread: str, fork: str, **_: Any) -> None:
        compared = effect_selectors.job_compare(
            original=selectors.job_get(thread_id=thread),
            fork=selectors.job_get(thread_id=fork),
        )
        data = present.job_comparison(compared)
        rows = [
            (
                e["position"],
                e["status"],
                (e["original"] or {}).get("name", ""),
                (e["fork"] or {}).get("name", ""),
            )
            for e in data["effects"]
        ]
        totals = data["totals"]
        human = cli.table(rows, ["#", "effect", "original", "fork"])
        human += "\n\nchanged: " + (
            ", ".join(c["key"] for c in data["state_changes"]) or "(nothing)"
        )
        human += "\n" + cli.table(
            [
                (name, t["total_tokens"], t["cost_usd"], t["effects"])
                for name, t in totals.items()
            ],
            ["run", "tokens", "cost", "effects"],
        )
        self.emit(data, human)

    # --- graphs, configuration -------------------------------------------------------

    def do_graphs(self, *, show: str | None, **_: Any) -> None:
        if show is None:
            items = [present.graph_item(e) for e in registry.graph_catalog()]
            rows = [
                (
                    g["name"],
                    ", ".join(g.get("nodes", [])) or g.get("error"),
                    g["source"],
                )
                for g in items
            ]
            self.emit({"graphs": items}, cli.table(rows, ["name", "nodes", "source"]))
            return
        registry.graph_get(show)  # UnknownGraph (listing the known ones) if absent
        (entry,) = registry.graph_catalog([show])
        data = present.graph_detail(entry)
        self.emit(data, graph_text(data))

    def do_config(self, **_: Any) -> None:
        rows = effective_configuration()
        data = {"env_file": str(settings.ORIS_ENV_FILE or ""), "settings": rows}
        path = settings.ORIS_ENV_FILE
        state = "" if path is None or path.is_file() else " (absent)"
        human = f"env file: {path or '(none)'}{state}\n" + cli.table(
            [(r["name"], cli.short(r["value"]), r["source"]) for r in rows],
            ["setting", "value", "source"],
        )
        self.emit(data, human)

    # --- waiting and describing ------------------------------------------------------

    def settle(self, job: Job, options: dict[str, Any]) -> None:
        """Prints the job, after waiting for it with ``--wait``; a waited run that
        failed, was cancelled or did not settle in time exits non-zero."""
        if not options["wait"]:
            self.emit(self.describe(job), self.summary(job))
            return
        job = self.wait(job, options["timeout"])
        self.emit(self.describe(job), self.summary(job))
        if job.status == Job.Status.FAILED:
            raise Error(
                f"run {job.thread_id} failed", returncode=cli.EXIT_FAILED, printed=True
            )
        if job.status == Job.Status.CANCELLED:
            raise Error(
                f"run {job.thread_id} was cancelled",
                returncode=cli.EXIT_CANCELLED,
                printed=True,
            )
        if job.status not in selectors.SETTLED:
            nodes, step = selectors.job_progress(job=job)
            raise Error(
                f"timed out after {options['timeout']:g}s waiting for "
                f"{job.thread_id}: it is still {job.status} "
                f"(next node: {', '.join(nodes) or '-'}, step: "
                f"{'-' if step is None else step})",
                returncode=cli.EXIT_TIMEOUT,
                printed=True,
            )

    def wait(self, job: Job, timeout: float) -> Job:
        progress = cli.Progress(
            lambda text: self.stderr.write(text, ending=""), tty=self.stderr.isatty()
        )
        deadline = time.monotonic() + timeout
        while True:
            job = selectors.job_get(thread_id=job.thread_id)
            nodes, step = selectors.job_progress(job=job)
            progress.update(job.status, nodes, step)
            if job.status in selectors.SETTLED or time.monotonic() >= deadline:
                break
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        progress.done()
        return job

    def describe(self, job: Job) -> dict[str, Any]:
        pending = selectors.interrupt_list_pending(job=job)
        return {
            "thread_id": job.thread_id,
            "graph": job.graph,
            "status": job.status,
            **present.run_outcome(job, pending),
            "attempts": selectors.job_attempts(job=job).count(),
            "created_at": present.rfc3339(job.created_at),
            "updated_at": present.rfc3339(job.updated_at),
        }

    def summary(self, job: Job) -> str:
        data = self.describe(job)
        error = data["error"]
        lines = [
            cli.fields(
                [
                    ("thread", data["thread_id"]),
                    ("graph", data["graph"]),
                    ("status", data["status"]),
                    ("attempts", data["attempts"]),
                    ("updated", data["updated_at"]),
                    (
                        "error",
                        f"{error['type']}: {error['message']}" if error else None,
                    ),
                ]
            )
        ]
        for item in data["pending_interrupts"]:
            lines.append(
                f"waiting on {item['interrupt_id']}: {cli.short(item['value'], 200)}"
            )
            lines.append(
                f"  answer: oris resume {job.thread_id} --approve | --value JSON "
                "| --reject --reason TEXT"
            )
        if data["result"] is not None:
            lines.append("result:\n" + cli.to_json(data["result"]))
        return "\n".join(lines)


def replay_line(report: Any) -> str:
    """One line per recorded replay: the job, what it found and where."""
    line = (
        f"{report.thread_id}  {report.graph}  {report.status}  "
        f"{report.effects_answered}/{report.effects_recorded} effects"
    )
    if report.divergence:
        divergence = report.divergence
        where = divergence.get("actual") or divergence.get("expected") or {}
        line += f"  {divergence['reason']}"
        if where:
            line += (
                f" (step {where.get('step')} {where.get('kind')} {where.get('name')})"
            )
    return line


def approval(value: Any) -> Any:
    """``--approve``'s answer: ``true``, or for an agent's tool-call review
    (``action_requests``) an ``approve`` decision for each call."""
    if isinstance(value, dict) and isinstance(value.get("action_requests"), list):
        return {"decisions": [{"type": "approve"} for _ in value["action_requests"]]}
    return True


def graph_text(data: dict[str, Any]) -> str:
    if "error" in data:
        return cli.fields(
            [
                ("graph", data["name"]),
                ("source", data["source"]),
                ("error", data["error"]),
            ]
        )
    schema = data["input_schema"]
    required = set(schema.get("required", []))
    rows = [
        (
            key,
            prop.get("type") or ("enum" if "enum" in prop else "any"),
            "yes" if key in required else "",
        )
        for key, prop in (schema.get("properties") or {}).items()
    ]
    return "\n".join(
        [
            cli.fields(
                [
                    ("graph", data["name"]),
                    ("source", data["source"]),
                    ("nodes", " -> ".join(data["nodes"])),
                    ("hash", data["definition_hash"]),
                ]
            ),
            "",
            "input schema:",
            cli.table(rows, ["key", "type", "required"]),
            "",
            "mermaid:",
            data["mermaid"],
        ]
    )


# Read from the environment by other parts (agents, `oris_bootstrap`), not settings.
ENVIRONMENT_ONLY = (
    *("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_HOST"),
    *("ORIS_ADMIN_USER", "ORIS_ADMIN_PASSWORD", "ORIS_DEMO"),
)


def effective_configuration() -> list[dict[str, str]]:
    """Every ``ORIS_*`` setting, the database and the keys, as this process sees
    them, with secrets masked and where each came from (``.env``, the
    environment, or the default)."""
    database: dict[str, Any] = settings.DATABASES["default"]
    where = database.get("HOST") or ""
    values: dict[str, tuple[str, Any]] = {
        "DATABASE": (
            "DATABASE_URL",
            f"{database['ENGINE'].rsplit('.', 1)[-1]} "
            f"{where + '/' if where else ''}{database['NAME']}",
        ),
        "DEBUG": ("ORIS_DEBUG", settings.DEBUG),
        "SECRET_KEY": ("ORIS_SECRET_KEY", settings.SECRET_KEY),
        "ALLOWED_HOSTS": ("ORIS_ALLOWED_HOSTS", settings.ALLOWED_HOSTS),
    }
    for name in dir(settings):
        if name.startswith("ORIS_") and name not in (
            "ORIS_ENV_FILE",
            "ORIS_ENV_FILE_KEYS",
        ):
            values[name] = (name, getattr(settings, name))
    for name in ENVIRONMENT_ONLY:
        values[name] = (name, os.environ.get(name, ""))
    from_file = set(settings.ORIS_ENV_FILE_KEYS)
    rows = []
    for name, (variable, value) in sorted(values.items()):
        source = ".env" if variable in from_file else "environment"
        if source == "environment" and variable not in os.environ:
            source = "default"
        rows.append({"name": name, "value": masked(name, value), "source": source})
    return rows


def masked(name: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    secret = any(word in name for word in SECRET_WORDS) and not name.endswith("_ID")
    if secret or name == "SECRET_KEY":
        return "********" if text else ""
    return text
