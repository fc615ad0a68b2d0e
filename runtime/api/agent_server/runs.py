"""The Agent Server's runs routes: create (background, ``wait``, ``stream``), on
a thread or stateless, batch, list, get, join, join the stream, cancel, delete.

Streams are Server-Sent Events tailed from the run's ``RunEvent`` rows, which the
worker executing the run writes: an async generator reads them in short queries (no
connection or transaction is held between them) whenever the run is notified
(``notifications.watch``: at once on PostgreSQL, by a poll on SQLite), sends
``: heartbeat`` every 5 s while nothing happens, and closes once the run is over and
every event was sent. No ``end`` event is sent, as LangGraph's own server sends none
on run streams; the SDK takes the close as the end. Every event carries its ``id:``
(the run's sequence), so a client may always reconnect with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from django.db import close_old_connections, connection
from django.db.models import Max
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, path
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from runtime.api.agent_server import sse
from runtime.api.agent_server.base import AgentServerApi
from runtime.api.base import AnyJSONField, validated
from runtime.api.permissions import Scope
from runtime.errors import InvalidArgument, NotFound
from runtime.models import Run, RunEvent, Thread
from runtime.models.agent_server import RUN_FINAL
from runtime.present import agent_run, json_line
from runtime.services import agent_runs, notifications
from runtime.services.audit import Actor
from runtime.services.run_status import LIVE

T = TypeVar("T")

STREAM_MODES = (
    "values",
    "updates",
    "messages-tuple",
    "messages",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "events",
)
EVENTS_PER_POLL = 500
CANCEL_WAIT_SECONDS = 60.0


# --- request bodies ----------------------------------------------------------------


class StreamModeField(serializers.Field):
    """``stream_mode``: one mode or a list of them (each one of STREAM_MODES)."""

    def to_internal_value(self, data: Any) -> list[str]:
        modes = [data] if isinstance(data, str) else data
        if not isinstance(modes, list) or not all(isinstance(m, str) for m in modes):
            raise serializers.ValidationError("must be a mode or a list of modes")
        for mode in modes:
            if mode not in STREAM_MODES:
                raise serializers.ValidationError(
                    f"unknown stream mode '{mode}'; expected one of "
                    f"{', '.join(STREAM_MODES)}"
                )
        return list(dict.fromkeys(modes)) or ["values"]

    def to_representation(self, value: Any) -> Any:
        return value


class NodesField(serializers.Field):
    """``interrupt_before`` / ``interrupt_after``: ``"*"`` or node names."""

    def to_internal_value(self, data: Any) -> Any:
        if data == "*" or (
            isinstance(data, list) and all(isinstance(n, str) for n in data)
        ):
            return data
        raise serializers.ValidationError('must be "*" or a list of node names')

    def to_representation(self, value: Any) -> Any:
        return value


class RunBody(serializers.Serializer):
    """A run request (``RunCreateStateful`` / ``RunCreateStateless``)."""

    assistant_id = serializers.CharField(max_length=256)
    input = AnyJSONField(required=False)
    command = serializers.DictField(required=False, allow_null=True)
    stream_mode = StreamModeField(required=False)
    stream_subgraphs = serializers.BooleanField(required=False, default=False)
    stream_resumable = serializers.BooleanField(required=False, default=False)
    config = serializers.DictField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False, allow_null=True)
    checkpoint = serializers.DictField(required=False, allow_null=True)
    checkpoint_id = serializers.CharField(
        required=False, allow_null=True, max_length=64
    )
    checkpoint_during = serializers.BooleanField(required=False, allow_null=True)
    interrupt_before = NodesField(required=False, allow_null=True)
    interrupt_after = NodesField(required=False, allow_null=True)
    multitask_strategy = serializers.ChoiceField(
        choices=Run.Strategy.values, required=False, allow_null=True
    )
    if_not_exists = serializers.ChoiceField(
        choices=["create", "reject"], required=False, allow_null=True
    )
    on_disconnect = serializers.ChoiceField(
        choices=["cancel", "continue"], required=False, allow_null=True
    )
    on_completion = serializers.ChoiceField(
        choices=["delete", "keep"], required=False, allow_null=True
    )
    after_seconds = serializers.FloatField(
        required=False, allow_null=True, min_value=0, max_value=86400 * 366
    )
    durability = serializers.ChoiceField(
        choices=["sync", "async", "exit"], required=False, allow_null=True
    )
    webhook = serializers.URLField(required=False, allow_null=True)
    feedback_keys = serializers.ListField(required=False, allow_null=True)
    strict_resume = serializers.BooleanField(required=False, allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()  # "context" is a Serializer attribute
        fields["context"] = serializers.DictField(required=False, allow_null=True)
        return fields

    def validate_webhook(self, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise serializers.ValidationError("webhook must be an http(s) URL")
        return value

    def validate_command(self, value: dict[str, Any] | None) -> Any:
        if value is not None and not set(value) <= {"resume", "update", "goto"}:
            raise serializers.ValidationError(
                "command may only have resume, update and goto"
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("input") is not None and attrs.get("command"):
            raise serializers.ValidationError("give input or command, not both")
        return attrs


def run_request(data: Any) -> dict[str, Any]:
    """A checked run request, with ``None`` fields dropped and defaults set."""
    if not isinstance(data, dict):
        raise InvalidArgument("request body must be a JSON object")
    request = {k: v for k, v in validated(RunBody, data).items() if v is not None}
    request.setdefault("stream_mode", ["values"])
    return request


# --- async helpers -----------------------------------------------------------------


def _short(fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``fn`` run off the event loop, on the loop's executor in a copy of the
    caller's context (its log and trace ids), its connection given back right
    after. A plain executor call: asgiref's ``sync_to_async`` (which also sets
    every context variable back after each call) was most of the event loop's
    CPU in a wait's looks at its run, measured with py-spy."""

    def call(*args: Any) -> T:
        try:
            return fn(*args)
        finally:
            connection.close()

    async def run(*args: Any) -> T:
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, context.run, call, *args)

    return run


def _poll(run_id: Any, after: int) -> tuple[list[tuple[int, str, str]], str | None]:
    # The status first: once it is final every event of the run is committed.
    status = agent_runs.run_status_of(run_id)
    rows = list(
        RunEvent.objects.filter(run_id=run_id, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "event", "data")[:EVENTS_PER_POLL]
    )
    return rows, status


def _last_seq(run_id: Any) -> int:
    found = RunEvent.objects.filter(run_id=run_id).aggregate(last=Max("seq"))
    return found["last"] or 0


def wanted(event: str, modes: list[str]) -> bool:
    """Whether a recorded event belongs to a stream of ``modes``."""
    base = event.split("|", 1)[0]
    if base in ("metadata", "error"):
        return True
    if base == "messages":
        return "messages-tuple" in modes
    if base.startswith("messages/"):
        return "messages" in modes
    return base in modes


def _run_cancel(run_id: Any, actor: Actor) -> None:
    run = Run.objects.filter(pk=run_id).first()
    if run is not None:
        with contextlib.suppress(NotFound):
            agent_runs.run_cancel(run=run, actor=actor)


async def tail(
    run_id: Any,
    *,
    after: int | None,
    modes: list[str],
    on_disconnect: str = "continue",
    actor: Actor | None = None,
    discard: bool = False,
) -> AsyncIterator[bytes]:
    """The run's events after sequence ``after`` (``None``: only those recorded
    from now on) until it is over; cancels it when the client goes away with
    ``on_disconnect="cancel"``; deletes a stateless run's thread at the end."""
    poll, beat = _short(_poll), time.monotonic()
    try:
        with notifications.watch(run_id) as waiter:
            if after is None:
                after = await _short(_last_seq)(run_id)
            while True:
                rows, status = await poll(run_id, after)
                for seq, event, data in rows:
                    after = seq
                    if wanted(event, modes):
                        yield sse.frame(event, data, seq)
                if rows:
                    beat = time.monotonic()
                    continue
                if status is None or status in RUN_FINAL:
                    break
                if time.monotonic() - beat >= sse.HEARTBEAT_SECONDS:
                    beat = time.monotonic()
                    yield sse.HEARTBEAT
                await waiter.wait()
    except asyncio.CancelledError:  # the client went away (Django 5 ASGI)
        if on_disconnect == "cancel" and actor is not None:
            await asyncio.shield(_short(_run_cancel)(run_id, actor))
        raise
    if discard:
        await _short(_discard)(run_id)


def _discard(run_id: Any) -> None:
    thread_id = Run.objects.filter(pk=run_id).values_list("thread_id", flat=True)
    for found in thread_id[:1]:
        agent_runs.thread_discard(thread_id=found)


def _finished(run_id: Any) -> tuple[Any, bool]:
    # Only the status while the run goes on: a wait looks several times.
    status = agent_runs.run_status_of(run_id)
    if status is None:
        return {}, True
    if status not in RUN_FINAL:
        return None, False
    return agent_runs.run_output(run_id), True


def _may_be_over(kind: str) -> bool:
    """Whether a notification of this kind may mean that the run is over: not
    its events, nor its move to a live status."""
    return kind != "event" and kind not in LIVE


async def outcome(
    run_id: Any,
    *,
    discard: bool = False,
    on_disconnect: str = "continue",
    actor: Actor | None = None,
    since: float | None = None,
) -> AsyncIterator[bytes]:
    """``runs.wait`` / ``runs.join``: the run's final values as JSON once it is
    over (a space now and then keeps the connection open meanwhile). ``since``:
    a ``monotonic()`` from before the run was created (pending) by this
    request; the first look is left out when every notification since then
    reaches the wait."""
    check, beat = _short(_finished), time.monotonic()
    try:
        with notifications.watch(run_id, wants=_may_be_over, since=since) as waiter:
            look = not waiter.heard_all
            while True:
                if look:
                    value, over = await check(run_id)
                    if over:
                        break
                look = True
                if time.monotonic() - beat >= sse.HEARTBEAT_SECONDS:
                    beat = time.monotonic()
                    yield b" "
                if await waiter.wait() in RUN_FINAL:  # over (for good): its output
                    value = await _answer(run_id, waiter.detail)
                    break
    except asyncio.CancelledError:
        if on_disconnect == "cancel" and actor is not None:
            await asyncio.shield(_short(_run_cancel)(run_id, actor))
        raise
    if discard:
        await _short(_discard)(run_id)
    yield json_line(value).encode()


async def _answer(run_id: Any, detail: str) -> Any:
    """A finished run's answer: the one its notification carried, else read."""
    event, _, data = detail.partition(" ")
    if event in ("values", "error") and data:
        return agent_runs.run_answer(event, data)
    return await _short(agent_runs.run_output)(run_id)


def run_path(run: Run) -> str:
    """The run's ``Content-Location`` (its stream and join are under it)."""
    return f"/threads/{run.thread_id}/runs/{run.run_id}"


def json_stream(events: AsyncIterator[bytes], run: Run, tail: str) -> Any:
    base = run_path(run)
    answer = StreamingHttpResponse(events, content_type="application/json")
    answer["Location"] = f"{base}/{tail}"
    answer["Content-Location"] = base
    return answer


def event_stream(events: AsyncIterator[bytes], run: Run) -> Any:
    base = run_path(run)
    return sse.response(
        events, {"Content-Location": base, "Location": f"{base}/stream"}
    )


def last_event_id(request: Request) -> int | None:
    """``Last-Event-ID``: replay after it (``-1``: all); absent: live only."""
    given = request.headers.get("Last-Event-ID")
    if given is None:
        return None
    try:
        return max(int(given.split("-")[0]) if given != "-1" else 0, 0)
    except ValueError:
        raise InvalidArgument("Last-Event-ID must be an event id") from None


# --- routes ------------------------------------------------------------------------


class AnyAccept(DefaultContentNegotiation):
    """Stream routes answer ``text/event-stream`` themselves, whatever ``Accept``
    asks; their errors are JSON."""

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class RunsApi(AgentServerApi):
    """Runs of one thread: list them, start one in the background."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "run.create", "thread"
    audit_resource_kwarg = "thread_id"
    content_negotiation_class = AnyAccept
    discard = agent_runs.DISCARD_BY_WORKER

    def create(self, request: Request, thread_id: str | None) -> Run:
        body = run_request(request.data)
        return agent_runs.run_create(
            actor=self.actor(),
            assistant_id=body.pop("assistant_id"),
            request=body,
            thread_id=thread_id,
            discard=self.discard,
        )

    def post(self, request: Request, thread_id: str | None = None) -> Any:
        since = time.monotonic()
        run = self.create(request, thread_id)
        follow = {
            "discard": run.kwargs.get("_discard") == self.discard,
            "on_disconnect": run.kwargs.get("on_disconnect", "continue"),
            "actor": self.actor(),
        }
        return self.answer(run, follow, since)

    def answer(self, run: Run, follow: dict[str, Any], since: float) -> Any:
        """The answer to a new run (``follow``: how a wait or stream follows it;
        ``since``: a ``monotonic()`` from before its creation)."""
        base = run_path(run)
        return Response(agent_run(run), headers={"Content-Location": base})

    def get(self, request: Request, thread_id: str) -> Response:
        if not Thread.objects.filter(pk=thread_id).exists():
            raise NotFound(agent_runs.THREAD_NOT_FOUND)
        query = self.query(RunListQuery)
        runs = Run.objects.filter(thread_id=thread_id).order_by("-created_at")
        if query.get("status"):
            runs = runs.filter(status=query["status"])
        offset = query["offset"]
        return Response([agent_run(r) for r in runs[offset : offset + query["limit"]]])


class RunListQuery(serializers.Serializer):
    limit = serializers.IntegerField(
        required=False, default=10, min_value=1, max_value=1000
    )
    offset = serializers.IntegerField(required=False, default=0, min_value=0)
    status = serializers.ChoiceField(choices=Run.Status.values, required=False)


class RunWaitApi(RunsApi):
    """``runs.wait``: start a run, answer its final values."""

    discard = agent_runs.DISCARD_BY_REQUEST

    def answer(self, run: Run, follow: dict[str, Any], since: float) -> Any:
        return json_stream(outcome(run.run_id, **follow, since=since), run, "join")


class RunStreamApi(RunsApi):
    """``runs.stream``: start a run, stream its events."""

    discard = agent_runs.DISCARD_BY_REQUEST

    def answer(self, run: Run, follow: dict[str, Any], since: float) -> Any:
        modes = run.kwargs["stream_mode"]
        return event_stream(tail(run.run_id, after=0, modes=modes, **follow), run)


class RunBatchApi(AgentServerApi):
    """``runs.create_batch``: several stateless background runs."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "run.create", "run"

    def post(self, request: Request) -> Response:
        if not isinstance(request.data, list) or not request.data:
            raise InvalidArgument("request body must be a non-empty list of runs")
        bodies = [run_request(item) for item in request.data]
        runs = [
            agent_runs.run_create(
                actor=self.actor(),
                assistant_id=body.pop("assistant_id"),
                request=body,
            )
            for body in bodies
        ]
        return Response([agent_run(r) for r in runs])


class RunApi(AgentServerApi):
    """One run: get it, delete it."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "run.delete", "run"
    audit_resource_kwarg = "run_id"

    def get(self, request: Request, thread_id: str, run_id: str) -> Response:
        run = agent_runs.run_get(thread_id=thread_id, run_id=run_id)
        return Response(agent_run(run))

    def delete(self, request: Request, thread_id: str, run_id: str) -> HttpResponse:
        run = agent_runs.run_get(thread_id=thread_id, run_id=run_id)
        agent_runs.run_delete(run=run, actor=self.actor())
        return HttpResponse(status=204)


class DisconnectQuery(serializers.Serializer):
    cancel_on_disconnect = serializers.BooleanField(required=False, default=False)
    stream_mode = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False
    )

    def validate_stream_mode(self, value: list[str]) -> list[str]:
        modes = [m for m in value if m]  # the SDK sends an empty one for none
        unknown = [m for m in modes if m not in STREAM_MODES]
        if unknown:
            raise serializers.ValidationError(f"unknown stream mode '{unknown[0]}'")
        return modes


class RunJoinApi(AgentServerApi):
    """``runs.join``: wait for a run, answer its final values."""

    required_scope = Scope.JOBS
    content_negotiation_class = AnyAccept

    def get(self, request: Request, thread_id: str, run_id: str) -> Any:
        run = agent_runs.run_get(thread_id=thread_id, run_id=run_id)
        query = self.query(DisconnectQuery)
        cancel = "cancel" if query["cancel_on_disconnect"] else "continue"
        events = outcome(run.run_id, on_disconnect=cancel, actor=self.actor())
        return json_stream(events, run, "join")


class RunJoinStreamApi(AgentServerApi):
    """``runs.join_stream``: the run's events after ``Last-Event-ID``."""

    required_scope = Scope.JOBS
    content_negotiation_class = AnyAccept

    def get(self, request: Request, thread_id: str, run_id: str) -> Any:
        run = agent_runs.run_get(thread_id=thread_id, run_id=run_id)
        query = self.query(DisconnectQuery)
        events = tail(
            run.run_id,
            after=last_event_id(request),
            modes=query.get("stream_mode") or run.kwargs.get("stream_mode", []),
            on_disconnect="cancel" if query["cancel_on_disconnect"] else "continue",
            actor=self.actor(),
        )
        return event_stream(events, run)


class CancelQuery(serializers.Serializer):
    wait = serializers.BooleanField(required=False, default=False)
    action = serializers.ChoiceField(
        choices=["interrupt", "rollback"], required=False, default="interrupt"
    )


def _wait_over(run_ids: list[Any]) -> None:
    deadline = time.monotonic() + CANCEL_WAIT_SECONDS
    while time.monotonic() < deadline:
        live = Run.objects.filter(pk__in=run_ids).exclude(status__in=RUN_FINAL)
        if not live.exists():
            return
        close_old_connections()
        time.sleep(notifications.POLL_SECONDS)


class RunCancelApi(AgentServerApi):
    """``runs.cancel``: stop a run (``action=rollback`` also deletes it)."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "run.cancel", "run"
    audit_resource_kwarg = "run_id"

    def post(self, request: Request, thread_id: str, run_id: str) -> HttpResponse:
        run = agent_runs.run_get(thread_id=thread_id, run_id=run_id)
        query = self.query(CancelQuery)
        agent_runs.run_cancel(run=run, actor=self.actor(), action=query["action"])
        if query["wait"]:
            _wait_over([run.run_id])
        return HttpResponse(status=202)


class CancelManyBody(serializers.Serializer):
    thread_id = serializers.CharField(required=False, max_length=256)
    run_ids = serializers.ListField(child=serializers.UUIDField(), required=False)
    status = serializers.ChoiceField(
        choices=["pending", "running", "all"], required=False
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("status") and not attrs.get("thread_id"):
            raise serializers.ValidationError("give thread_id (and run_ids) or status")
        return attrs


class RunCancelManyApi(AgentServerApi):
    """``runs.cancel_many``: by thread and run ids, or by status."""

    required_scope = Scope.JOBS
    audit_action, audit_resource = "run.cancel", "run"

    def post(self, request: Request) -> HttpResponse:
        body = self.body(CancelManyBody)
        action = self.query(CancelQuery)["action"]
        runs = Run.objects.exclude(status__in=RUN_FINAL)
        if body.get("thread_id"):
            runs = runs.filter(thread_id=body["thread_id"])
        if body.get("run_ids"):
            runs = runs.filter(pk__in=body["run_ids"])
        if body.get("status") in ("pending", "running"):
            runs = runs.filter(status=body["status"])
        for run in list(runs.order_by("-created_at")):
            with contextlib.suppress(NotFound):  # over meanwhile
                agent_runs.run_cancel(run=run, actor=self.actor(), action=action)
        return HttpResponse(status=204)


class StatelessRunsApi(RunsApi):
    def post(self, request: Request) -> Any:  # type: ignore[override]
        return super().post(request, None)


class StatelessWaitApi(RunWaitApi):
    def post(self, request: Request) -> Any:  # type: ignore[override]
        return super().post(request, None)


class StatelessStreamApi(RunStreamApi):
    def post(self, request: Request) -> Any:  # type: ignore[override]
        return super().post(request, None)


_RUN = "threads/<str:thread_id>/runs/<str:run_id>"
urlpatterns: list[URLPattern] = [
    path("threads/<str:thread_id>/runs", RunsApi.as_view(), name="runs"),
    path("threads/<str:thread_id>/runs/wait", RunWaitApi.as_view(), name="run-wait"),
    path(
        "threads/<str:thread_id>/runs/stream",
        RunStreamApi.as_view(),
        name="run-stream",
    ),
    path(_RUN, RunApi.as_view(), name="run"),
    path(f"{_RUN}/join", RunJoinApi.as_view(), name="run-join"),
    path(f"{_RUN}/stream", RunJoinStreamApi.as_view(), name="run-join-stream"),
    path(f"{_RUN}/cancel", RunCancelApi.as_view(), name="run-cancel"),
    path("runs", StatelessRunsApi.as_view(), name="stateless-runs"),
    path("runs/wait", StatelessWaitApi.as_view(), name="stateless-wait"),
    path("runs/stream", StatelessStreamApi.as_view(), name="stateless-stream"),
    path("runs/batch", RunBatchApi.as_view(), name="runs-batch"),
    path("runs/cancel", RunCancelManyApi.as_view(), name="runs-cancel"),
]
