"""The one presenter: graph state as plain JSON, and the reference's response shapes.

Functions here take rows and values the caller already read (selectors) and return
the ``data`` of a /v1 response; they write nothing. Services use ``run_response``
too, because an idempotency record stores the answer it replays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graphs import serde
from runtime.inputs import json_schema
from runtime.models import Job, Run
from runtime.tracing import trace_response

if TYPE_CHECKING:
    from runtime.models import Attempt, AuditLog, DeadLetter, Interrupt, Lease
    from runtime.registry import CatalogEntry
    from runtime.selectors.history import CheckpointEntry, JobState
    from runtime.selectors.storage import ThreadStorage
    from runtime.selectors.usage import JobUsage

JSON = dict[str, Any]


def present(value: Any) -> Any:
    """Messages and other registered objects as their JSON dicts, recursively."""
    if isinstance(value, dict):
        return {str(k): present(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [present(v) for v in value]
    if hasattr(value, "to_json"):
        return present(value.to_json())
    return serde.to_jsonable(value)


def json_line(data: Any) -> str:
    """One line of compact JSON: how a stream event's data is stored and sent."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def present_lc(value: Any) -> Any:
    """State as LangGraph's Agent Server sends it: LangChain messages (anything
    pydantic with a message ``type``) as their ``model_dump()``, the rest as
    ``present`` gives it."""
    if isinstance(value, dict):
        return {str(k): present_lc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [present_lc(v) for v in value]
    if hasattr(value, "model_dump") and isinstance(getattr(value, "type", None), str):
        return present_lc(value.model_dump())
    return present(value)


def rfc3339(value: datetime | None) -> str | None:
    """A datetime as the reference prints it (UTC, ``+00:00``)."""
    return value.isoformat() if value is not None else None


# --- jobs ---------------------------------------------------------------------------


def run_response(
    job: Job,
    *,
    pending: Iterable[Interrupt] = (),
    key: str | None = None,
    replay: bool = False,
    trace: Any = None,
) -> JSON:
    """The reference's ``RunJobResponse``; ``pending`` are the open interrupts."""
    return {
        "thread_id": job.thread_id,
        "status": job.status,
        "interrupts": [i.value for i in pending],
        "idempotency_key": key,
        "idempotent_replay": replay,
        "trace": trace_response(trace),
    }


def settled_response(response: JSON, job: Job, pending: Iterable[Interrupt]) -> JSON:
    """A ``RunJobResponse`` answered after a wait, with what a waiting client wants
    next (additions to the reference; see ``run_outcome``)."""
    return response | run_outcome(job, pending)


def run_outcome(job: Job, pending: Iterable[Interrupt]) -> JSON:
    """Where a run ended: ``result`` (completed), ``error`` (failed: type and
    message) and ``pending_interrupts`` (paused: ids and values); ``null`` and
    ``[]`` otherwise."""
    error = job.error or None
    return {
        "result": job.result if job.status == Job.Status.COMPLETED else None,
        "error": (
            {"type": error.get("type", ""), "message": error.get("message", "")}
            if error and job.status == Job.Status.FAILED
            else None
        ),
        "pending_interrupts": [
            {"interrupt_id": i.pk, "value": i.value} for i in pending
        ],
    }


def job_list(jobs: Iterable[Job]) -> JSON:
    return {
        "jobs": [
            {
                "thread_id": j.thread_id,
                "status": j.status,
                "graph": j.graph,
                "updated_at": rfc3339(j.updated_at),
            }
            for j in jobs
        ]
    }


def job_state(job: Job, state: JobState) -> JSON:
    return {
        "thread_id": job.thread_id,
        "checkpoint_id": state.checkpoint_id,
        "created_at": state.created_at or rfc3339(job.created_at),
        "values": state.values,
    }


def checkpoint_state(job: Job, state: JobState) -> JSON:
    return {
        "thread_id": job.thread_id,
        "checkpoint_id": state.checkpoint_id,
        "created_at": state.created_at,
        "values": state.values,
    }


def history_items(entries: Iterable[CheckpointEntry]) -> list[JSON]:
    return [
        {"checkpoint_id": e.checkpoint_id, "created_at": e.created_at} for e in entries
    ]


def timeline_items(entries: Iterable[CheckpointEntry]) -> list[JSON]:
    return [
        {
            "seq": seq,
            "event_type": "checkpoint_saved",
            "checkpoint_id": e.checkpoint_id,
            "created_at": e.created_at,
        }
        for seq, e in enumerate(entries, start=1)
    ]


def job_history(job: Job, entries: list[CheckpointEntry]) -> JSON:
    return {"thread_id": job.thread_id, "history": history_items(entries)}


def job_timeline(job: Job, entries: list[CheckpointEntry]) -> JSON:
    return {"thread_id": job.thread_id, "timeline": timeline_items(entries)}


def job_timeline_export(job: Job, entries: list[CheckpointEntry]) -> JSON:
    return {**job_timeline(job, entries), "history": history_items(entries)}


def job_detail(
    job: Job,
    *,
    entries: list[CheckpointEntry],
    state: JobState,
    pending: Interrupt | None,
    attempts: Iterable[Attempt],
    latest_attempt: Attempt | None,
) -> JSON:
    """The reference's ``JobDetailResponse``: state, history, interrupt, attempts."""
    return {
        "thread_id": job.thread_id,
        "status": job.status,
        "graph": job.graph,
        "checkpoint_id": state.checkpoint_id if entries else None,
        "values": state.values if entries else {},
        "history": history_items(entries),
        "timeline": timeline_items(entries),
        "pending_interrupt": interrupt_detail(pending) if pending else None,
        "trace": trace_response(latest_attempt.trace if latest_attempt else job.trace),
        "attempts": [
            {
                "attempt_id": a.pk,
                "attempt_no": a.attempt_no,
                "kind": a.kind,
                "status": a.status,
                "created_at": rfc3339(a.created_at),
            }
            for a in attempts
        ],
        "error": job.error,
    }


def job_storage(job: Job, storage: ThreadStorage) -> JSON:
    """What a thread stores, and when retention last pruned it."""
    return {
        "thread_id": job.thread_id,
        "checkpoints": storage.checkpoints,
        "blobs": storage.blobs,
        "writes": storage.writes,
        "bytes": storage.bytes,
        "checkpoint_bytes": storage.checkpoint_bytes,
        "blob_bytes": storage.blob_bytes,
        "write_bytes": storage.write_bytes,
        "pruned_at": rfc3339(job.pruned_at),
    }


def job_usage(job: Job, usage: JobUsage) -> JSON:
    """What a run spent, what operators granted it, and its tenant's totals."""
    return {
        "thread_id": job.thread_id,
        "tenant_id": job.tenant_id,
        "run": usage.run.as_dict(),
        "grants": usage.grants,
        "tenant": usage.tenant.as_dict(),
    }


def job_cancel(job: Job, reason: str | None) -> JSON:
    """A cancel answer: ``cancelling`` until a running job reaches its next step."""
    status = "cancelled" if job.status == Job.Status.CANCELLED else "cancelling"
    return {"thread_id": job.thread_id, "status": status, "reason": reason}


# --- interrupts ---------------------------------------------------------------------


def interrupt_item(interrupt: Interrupt) -> JSON:
    return {
        "interrupt_id": interrupt.pk,
        "thread_id": interrupt.job.thread_id,
        "run_id": interrupt.job.thread_id,
        "value": interrupt.value,
        "status": interrupt.status,
        "created_at": rfc3339(interrupt.created_at),
    }


def interrupt_list(interrupts: Iterable[Interrupt]) -> JSON:
    return {"interrupts": [interrupt_item(i) for i in interrupts]}


def interrupt_detail(interrupt: Interrupt) -> JSON:
    out = {**interrupt_item(interrupt), "attempt_id": interrupt.attempt_id}
    if interrupt.policy is not None:
        out["policy"] = interrupt_policy(interrupt)
    return out


def interrupt_policy(interrupt: Interrupt) -> JSON:
    """The declared approval policy and where it stands (an Oris addition)."""
    return {
        "declared": interrupt.policy,
        "assignee": interrupt.assignee or None,
        "group": interrupt.assignee_group or None,
        "claimed_by": interrupt.claimed_by or None,
        "deadline_at": rfc3339(interrupt.deadline_at),
        "escalated_at": rfc3339(interrupt.escalated_at),
        "votes": [
            {
                "voter": vote.voter,
                "decision": vote.decision,
                "reason": vote.reason,
                "at": rfc3339(vote.created_at),
            }
            for vote in interrupt.votes.order_by("created_at", "pk")
        ],
    }


def interrupt_rejected(interrupt: Interrupt) -> JSON:
    return {
        "thread_id": interrupt.job.thread_id,
        "status": "cancelled",
        "reason": "interrupt rejected",
    }


# --- dead letters, attempts, audit --------------------------------------------------


def dead_letter_item(entry: DeadLetter) -> JSON:
    return {
        "attempt_id": entry.attempt_id,
        "run_id": entry.job.thread_id,
        "attempt_no": entry.attempt_no,
        "terminal_status": entry.terminal_status,
        "reason": entry.reason,
        "dead_at": rfc3339(entry.dead_at),
        "replay_status": entry.replay_status,
        "replay_count": entry.replay_count,
        "last_replayed_at": rfc3339(entry.last_replayed_at),
    }


def dead_letter_list(entries: Iterable[DeadLetter]) -> JSON:
    return {"entries": [dead_letter_item(e) for e in entries]}


def dead_letter_replayed(entry: DeadLetter) -> JSON:
    return {
        "attempt_id": entry.attempt_id,
        "status": "requeued",
        "replay_count": entry.replay_count,
    }


def attempt_retries(attempt: Attempt) -> JSON:
    return {
        "attempt_id": attempt.pk,
        "current_attempt_no": max(attempt.attempt_no, 1),
        "current_status": attempt.status,
        "history": [
            {
                "retry_no": n,
                "attempt_no": r.attempt_no,
                "strategy": r.strategy,
                "backoff_ms": r.backoff_ms,
                "max_retries": r.max_retries,
                "scheduled_at": rfc3339(r.scheduled_at),
            }
            for n, r in enumerate(attempt.retries.all(), start=1)
        ],
    }


def audit_logs(logs: Iterable[AuditLog]) -> JSON:
    return {
        "logs": [
            {
                "audit_id": log.pk,
                "actor_type": log.actor_type,
                "actor_id": log.actor_id or None,
                "actor_role": log.actor_role or None,
                "action": log.action,
                "resource_type": log.resource_type,
                "resource_id": log.resource_id or None,
                "result": log.result,
                "request_id": log.request_id,
                "details": log.details,
                "created_at": rfc3339(log.created_at),
            }
            for log in logs
        ]
    }


# --- graphs -------------------------------------------------------------------------

ENDPOINTS = ("__start__", "__end__")


def graph_item(entry: CatalogEntry) -> JSON:
    """A registered graph in a list: its name, builder, nodes and definition hash
    (or why it cannot be loaded)."""
    item: JSON = {"name": entry.name, "source": entry.source}
    if entry.found is None:
        return item | {"error": entry.error}
    nodes = entry.found.graph.get_graph().nodes
    return item | {
        "nodes": [n for n in nodes if n not in ENDPOINTS],
        "definition_hash": entry.found.definition_hash,
    }


def graph_detail(entry: CatalogEntry) -> JSON:
    """A graph's item with its input and output JSON schemas, edges and Mermaid."""
    if entry.found is None:
        return graph_item(entry)
    graph = entry.found.graph
    drawable = graph.get_graph()
    return {
        **graph_item(entry),
        "edges": drawable.to_json()["edges"],
        "input_schema": json_schema(graph, "input_schema"),
        "output_schema": json_schema(graph, "output_schema"),
        "mermaid": drawable.draw_mermaid(),
    }


# --- workers ------------------------------------------------------------------------


def worker_poll(decision: Any) -> JSON:
    """A poll decision; a dispatched one carries the job's thread, graph and input."""
    lease = decision.lease
    body: JSON = {
        "decision": decision.decision,
        "attempt_id": lease.attempt_id if lease else None,
        "lease_id": lease.pk if lease else None,
        "lease_expires_at": rfc3339(lease.expires_at) if lease else None,
        "reason": decision.reason,
        "worker_active_leases": decision.worker_active_leases,
        "worker_limit": decision.worker_limit,
        "tenant_id": decision.tenant_id,
        "tenant_active_leases": decision.tenant_active_leases,
        "tenant_limit": decision.tenant_limit,
        "trace": trace_response(decision.trace),
    }
    if lease:
        job = lease.attempt.job
        body |= {"thread_id": job.thread_id, "graph": job.graph, "input": job.input}
    return body


def worker_lease(worker_id: str, lease: Lease, trace: Any) -> JSON:
    return {
        "worker_id": worker_id,
        "lease_id": lease.pk,
        "lease_expires_at": rfc3339(lease.expires_at),
        "trace": trace_response(trace),
    }


def worker_step(attempt_id: str, status: str, trace: Any) -> JSON:
    return {
        "attempt_id": attempt_id,
        "status": status,
        "next_retry_at": None,
        "next_attempt_no": None,
        "trace": trace_response(trace),
    }


def worker_ack(attempt_id: str, outcome: Any, trace: Any) -> JSON:
    return {
        "attempt_id": attempt_id,
        "status": outcome.status,
        "next_retry_at": rfc3339(outcome.next_retry_at),
        "next_attempt_no": outcome.next_attempt_no,
        "trace": trace_response(trace),
    }


# --- Agent Server runs -------------------------------------------------------------


def agent_run(run: Run) -> JSON:
    """A run as the Agent Server answers it (its private bookkeeping left out)."""
    return {
        "run_id": str(run.run_id),
        "thread_id": run.thread_id,
        "assistant_id": str(run.assistant_id),
        "created_at": rfc3339(run.created_at),
        "updated_at": rfc3339(run.updated_at),
        "status": run.status,
        "metadata": run.metadata,
        "multitask_strategy": run.multitask_strategy,
        "kwargs": {k: v for k, v in run.kwargs.items() if not k.startswith("_")},
    }


# --- effects ------------------------------------------------------------------------


def effect_item(record: Any) -> dict[str, Any]:
    """One effect of the ledger (``graphs.effects.EffectRecord``)."""
    return {
        "key": record.key,
        "kind": record.kind,
        "name": record.name,
        "step": record.step,
        "task_path": record.task_path,
        "index": record.index,
        "checkpoint_ns": record.checkpoint_ns,
        "outcome": record.outcome,
        "request": record.request,
        "response": record.response,
        "error": record.error,
        "usage": record.usage,
        "cost_usd": record.cost,
        "duration_ms": record.duration_ms,
        "started_at": record.started_at,
    }


def effect_totals(totals: Any) -> dict[str, Any]:
    """``selectors.effects.EffectTotals`` as JSON."""
    return dict(asdict(totals))


def job_effects(job: Job, records: list[Any]) -> dict[str, Any]:
    """``GET /v1/jobs/{thread_id}/effects``."""
    from runtime.selectors.effects import effect_totals as totals_of

    return {
        "thread_id": job.thread_id,
        "effects": [effect_item(r) for r in records],
        "totals": effect_totals(totals_of(records)),
    }


def replay_report(report: Any) -> dict[str, Any]:
    """``services.replays.ReplayReport`` as JSON."""
    return dict(asdict(report))


def job_comparison(compared: Any) -> dict[str, Any]:
    """``selectors.effects.Comparison``: a job and its fork side by side."""
    return {
        "original": compared.original.thread_id,
        "fork": compared.fork.thread_id,
        "fork_of": compared.fork.fork_of or None,
        "fork_checkpoint_id": compared.fork.fork_checkpoint_id or None,
        "overrides": compared.fork.effect_overrides or {},
        "state_changes": [asdict(c) for c in compared.state_changes],
        "effects": [
            {
                "position": pair.position,
                "status": pair.status,
                "original": None
                if pair.original is None
                else effect_item(pair.original),
                "fork": None if pair.fork is None else effect_item(pair.fork),
            }
            for pair in compared.effects
        ],
        "totals": {
            "original": effect_totals(compared.original_totals),
            "fork": effect_totals(compared.fork_totals),
        },
    }
