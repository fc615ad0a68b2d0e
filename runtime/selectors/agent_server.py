"""Reads of the Agent Server API, shared by the API and the console: assistants
(system and stored), threads with their status, and thread state and history read
from the thread's checkpoints through the registered graph (``history``'s path)."""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.db.models import Case, Exists, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest

from graphs.types import StateSnapshot
from runtime import registry
from runtime.errors import InvalidArgument, NotFound
from runtime.models import Assistant, AssistantVersion, Job, Run, Thread
from runtime.models.agent_server import RUN_FINAL
from runtime.present import present_lc
from runtime.selectors.history import graph_on_saver, thread_config
from runtime.services.assistants import VERSIONED, system_assistant_id, system_graph

# System assistants exist as long as the process has: LangGraph dates them so too.
_SYSTEM_SINCE = datetime.now(UTC)

ASSISTANT_SORTS = ("assistant_id", "graph_id", "name", "created_at", "updated_at")
THREAD_SORTS = ("thread_id", "status", "created_at", "updated_at", "state_updated_at")
THREAD_STATUSES = ("idle", "busy", "interrupted", "error")

# A thread's status, from its job's (a thread with an active run is busy too).
JOB_THREAD_STATUS = {
    Job.Status.QUEUED: "busy",
    Job.Status.RUNNING: "busy",
    Job.Status.INTERRUPTED: "interrupted",
    Job.Status.FAILED: "error",
}
RUN_ACTIVE = [s for s in Run.Status if s not in RUN_FINAL]


# --- assistants ---------------------------------------------------------------------


def assistant_system(graph: str) -> Assistant:
    """The system assistant of a registered graph (not a row)."""
    return Assistant(
        assistant_id=system_assistant_id(graph),
        graph_id=graph,
        name=graph,
        description=None,
        config={},
        context={},
        metadata={"created_by": "system"},
        version=1,
        created_at=_SYSTEM_SINCE,
        updated_at=_SYSTEM_SINCE,
    )


def is_system(assistant: Assistant) -> bool:
    return assistant.assistant_id == system_assistant_id(assistant.graph_id)


def parse_assistant_id(value: str) -> uuid.UUID:
    """An assistant id as the dev server reads it: a non-UUID is a 422."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidArgument(f"Invalid assistant ID: '{value}'") from None


def assistant_get(*, assistant_id: str) -> Assistant:
    wanted = parse_assistant_id(assistant_id)
    graph = system_graph(wanted)
    if graph is not None:
        return assistant_system(graph)
    found = Assistant.objects.filter(pk=wanted).first()
    if found is None:
        raise NotFound(f"Assistant '{assistant_id}' not found")
    return found


def _matches(data: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
    return all(data.get(key) == value for key, value in (wanted or {}).items())


def json_filter(
    rows: QuerySet[Any], field: str, wanted: dict[str, Any] | None
) -> QuerySet[Any]:
    """Rows whose JSON ``field`` holds every key of ``wanted`` with its value."""
    for key, value in (wanted or {}).items():
        rows = rows.filter(**{f"{field}__{key}": value})
    return rows


def _stored(
    graph_id: str | None, metadata: dict[str, Any] | None, name: str | None
) -> QuerySet[Assistant]:
    rows = Assistant.objects.all()
    if graph_id:
        rows = rows.filter(graph_id=graph_id)
    if name:
        rows = rows.filter(name__icontains=name)
    return json_filter(rows, "metadata", metadata)


def _systems(
    graph_id: str | None, metadata: dict[str, Any] | None, name: str | None
) -> list[Assistant]:
    found = [assistant_system(graph) for graph in registry.graph_names()]
    return [
        a
        for a in found
        if (not graph_id or a.graph_id == graph_id)
        and (not name or name.lower() in a.name.lower())
        and _matches(a.metadata, metadata)
    ]


def assistant_search(
    *,
    graph_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "created_at",
    sort_order: str = "desc",
) -> tuple[list[Assistant], bool]:
    """A page of system and stored assistants, and whether more follow."""
    descending = sort_order == "desc"
    order = f"-{sort_by}" if descending else sort_by
    wanted = offset + limit + 1
    stored = list(_stored(graph_id, metadata, name).order_by(order, "pk")[:wanted])
    every = _systems(graph_id, metadata, name) + stored
    every.sort(key=lambda a: str(getattr(a, sort_by)), reverse=descending)
    page = every[offset : offset + limit + 1]
    return page[:limit], len(page) > limit


def assistant_count(
    *,
    graph_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    name: str | None = None,
) -> int:
    stored = _stored(graph_id, metadata, name).count()
    return stored + len(_systems(graph_id, metadata, name))


def assistant_version_list(
    *,
    assistant: Assistant,
    metadata: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
) -> list[AssistantVersion]:
    """The assistant's versions, newest first (a system assistant has one)."""
    if is_system(assistant):
        only = AssistantVersion(
            assistant=assistant,
            version=1,
            created_at=assistant.created_at,
            **{name: getattr(assistant, name) for name in VERSIONED},
        )
        return (
            [only][offset : offset + limit] if _matches(only.metadata, metadata) else []
        )
    rows = json_filter(assistant.versions.all(), "metadata", metadata)
    return list(rows.order_by("-version")[offset : offset + limit])


def assistant_graph(*, assistant: Assistant) -> Any:
    """The assistant's compiled graph (its registered graph)."""
    return registry.graph_get(assistant.graph_id).graph


# --- threads ------------------------------------------------------------------------


def _job_field(name: str) -> Subquery:
    """A field of the thread's job: the job of the same thread id (whether or not
    the thread's row links it yet)."""
    return Subquery(Job.objects.filter(thread_id=OuterRef("pk")).values(name)[:1])


def _status_expression() -> Case:
    active = Exists(Run.objects.filter(thread=OuterRef("pk"), status__in=RUN_ACTIVE))
    return Case(
        When(active, then=Value("busy")),
        *(
            When(job_status=job_status, then=Value(status))
            for job_status, status in JOB_THREAD_STATUS.items()
        ),
        default=Value("idle"),
    )


def thread_rows() -> QuerySet[Thread]:
    """Threads with their ``status`` and ``state_updated_at`` (the later of the
    job's last change, which its runs' checkpoints move, and the thread's, which
    ``update_state`` moves)."""
    return (
        Thread.objects.select_related("job")
        .annotate(
            job_status=_job_field("status"), job_updated_at=_job_field("updated_at")
        )
        .annotate(
            status=_status_expression(),
            state_updated_at=Coalesce(
                Greatest("job_updated_at", "updated_at"), "updated_at"
            ),
        )
    )


def _job_thread(job: Job) -> Thread:
    """A /v1 job as a thread of the Agent Server (not a row until it is changed)."""
    thread = Thread(
        thread_id=job.thread_id,
        job=job,
        metadata={
            "graph_id": job.graph,
            "assistant_id": str(system_assistant_id(job.graph)),
        },
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
    thread.status = JOB_THREAD_STATUS.get(Job.Status(job.status), "idle")  # type: ignore[attr-defined]
    thread.state_updated_at = job.updated_at  # type: ignore[attr-defined]
    return thread


def thread_get(*, thread_id: str) -> Thread:
    """The thread ``thread_id`` (a /v1 job of that thread id is one too)."""
    found = thread_rows().filter(pk=thread_id).first()
    if found is not None:
        return found
    job = Job.objects.filter(thread_id=thread_id).first()
    if job is None:
        raise NotFound(f"Thread '{thread_id}' not found")
    return _job_thread(job)


def thread_job(thread: Thread) -> Job | None:
    """The thread's job: the one its row links, else the job of its thread id."""
    if thread.job is not None:
        return thread.job
    return Job.objects.filter(thread_id=thread.thread_id).first()


def thread_graph_name(thread: Thread) -> str | None:
    """The graph whose checkpoints the thread holds: its job's, or the one its
    metadata names (a copied or seeded thread); ``None`` if it has none yet."""
    job = thread_job(thread)
    if job is not None:
        return job.graph
    name = (thread.metadata or {}).get("graph_id")
    return name if name in registry.graph_names() else None


def thread_graph(thread: Thread) -> Any | None:
    name = thread_graph_name(thread)
    return graph_on_saver(name) if name is not None else None


def _config(thread: Thread, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    config = thread_config(thread.thread_id)
    config["configurable"].update(
        {k: v for k, v in (checkpoint or {}).items() if k != "thread_id" and v}
    )
    return config


def thread_snapshot(
    *,
    thread: Thread,
    checkpoint: dict[str, Any] | None = None,
    subgraphs: bool = False,
) -> StateSnapshot | None:
    """The thread's state at ``checkpoint`` (``checkpoint_id``, ``checkpoint_ns``;
    default: its head); ``None`` for a thread with no checkpoint yet. A checkpoint
    it does not have is ``NotFound``."""
    graph = thread_graph(thread)
    named = bool((checkpoint or {}).get("checkpoint_id"))
    if graph is None:
        if named:
            raise NotFound(f"Checkpoint not found for thread '{thread.thread_id}'")
        return None
    try:
        snapshot = graph.get_state(_config(thread, checkpoint), subgraphs=subgraphs)
    except ValueError as error:  # a namespace naming no subgraph
        raise InvalidArgument(str(error)) from None
    if snapshot.created_at is None:
        if named:
            raise NotFound(f"Checkpoint not found for thread '{thread.thread_id}'")
        return None
    return snapshot


def thread_history(
    *,
    thread: Thread,
    limit: int = 10,
    before: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> list[StateSnapshot]:
    """The thread's states, newest first."""
    graph = thread_graph(thread)
    if graph is None:
        return []
    before_config = _config(thread, before) if before else None
    try:
        found = graph.get_state_history(
            _config(thread, checkpoint),
            filter=metadata or None,
            before=before_config,
            limit=limit,
        )
        return list(found)
    except ValueError as error:
        raise InvalidArgument(str(error)) from None


def _values_match(thread: Thread, wanted: dict[str, Any]) -> bool:
    snapshot = thread_snapshot(thread=thread)
    values = present_lc(snapshot.values) if snapshot is not None else None
    return isinstance(values, dict) and _matches(values, wanted)


def _thread_query(
    metadata: dict[str, Any] | None,
    status: str | None,
    ids: list[str] | None,
) -> QuerySet[Thread]:
    rows = json_filter(thread_rows(), "metadata", metadata)
    if status:
        rows = rows.filter(status=status)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows


# A /v1 job shown as a thread: its sort keys, read from the job's fields.
_JOB_SORT = {
    "thread_id": "thread_id",
    "status": "thread_status",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "state_updated_at": "updated_at",
}


def _job_query(
    metadata: dict[str, Any] | None,
    status: str | None,
    ids: list[str] | None,
) -> QuerySet[Job]:
    """The /v1 jobs that have no thread row yet, as the threads they are: their
    metadata is their graph's ``graph_id`` and system ``assistant_id``."""
    rows = Job.objects.exclude(thread_id__in=Thread.objects.values("pk")).annotate(
        thread_status=Case(
            *(
                When(status=job_status, then=Value(shown))
                for job_status, shown in JOB_THREAD_STATUS.items()
            ),
            default=Value("idle"),
        )
    )
    wanted = dict(metadata or {})
    if "graph_id" in wanted:
        rows = rows.filter(graph=wanted.pop("graph_id"))
    if "assistant_id" in wanted:
        graph = _system_graph_of(wanted.pop("assistant_id"))
        rows = rows.filter(graph=graph) if graph else rows.none()
    if wanted:  # a key a job's metadata does not have
        rows = rows.none()
    if status:
        rows = rows.filter(thread_status=status)
    if ids is not None:
        rows = rows.filter(thread_id__in=ids)
    return rows


def _system_graph_of(value: Any) -> str | None:
    try:
        return system_graph(uuid.UUID(str(value)))
    except ValueError:
        return None


def _merged(
    rows: QuerySet[Thread], jobs: QuerySet[Job], sort_by: str, descending: bool
) -> Iterator[Thread]:
    """Thread rows and /v1 jobs' threads, each read in the sort order, merged."""
    return heapq.merge(
        rows.iterator(chunk_size=100),
        (_job_thread(job) for job in jobs.iterator(chunk_size=100)),
        key=lambda thread: getattr(thread, sort_by),
        reverse=descending,
    )


def _matching(
    threads: Iterator[Thread], values: dict[str, Any] | None
) -> Iterator[Thread]:
    return (t for t in threads if not values or _values_match(t, values))


def thread_search(
    *,
    metadata: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status: str | None = None,
    ids: list[str] | None = None,
    limit: int = 10,
    offset: int = 0,
    sort_by: str = "updated_at",
    sort_order: str = "desc",
) -> list[Thread]:
    """A page of threads: thread rows and the /v1 jobs that have none, merged in
    the sort order; ``values`` is matched on each thread's head state."""
    descending = sort_order == "desc"
    sign = "-" if descending else ""
    rows = _thread_query(metadata, status, ids).order_by(f"{sign}{sort_by}", "pk")
    jobs = _job_query(metadata, status, ids).order_by(
        f"{sign}{_JOB_SORT[sort_by]}", "thread_id"
    )
    if not values:  # neither side can give more than the page's end
        rows, jobs = rows[: offset + limit], jobs[: offset + limit]
    found = _matching(_merged(rows, jobs, sort_by, descending), values)
    return list(itertools.islice(found, offset, offset + limit))


def thread_count(
    *,
    metadata: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    status: str | None = None,
) -> int:
    rows = _thread_query(metadata, status, None)
    jobs = _job_query(metadata, status, None)
    if not values:
        return rows.count() + jobs.count()
    every = itertools.chain(
        rows.iterator(chunk_size=100),
        (_job_thread(job) for job in jobs.iterator(chunk_size=100)),
    )
    return sum(1 for _ in _matching(every, values))


def thread_runs(*, thread: Thread, limit: int = 50) -> list[Run]:
    """The thread's runs, newest first (the console's list)."""
    if thread._state.adding:  # a /v1 job shown as a thread has no runs
        return []
    return list(thread.runs.order_by("-created_at")[:limit])


def job_agent_thread(*, job: Job) -> tuple[Thread | None, list[Run]]:
    """The Agent Server thread of a job (its row, when it has one) and its runs,
    newest first: what the console's run page shows."""
    found = thread_rows().filter(pk=job.thread_id).first()
    if found is None:
        return None, []
    return found, thread_runs(thread=found)
