"""The /v1 routes (mounted by oris_site/urls.py), and the envelope for the rest."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from runtime.api import (
    audit,
    dlq,
    effects,
    graphs,
    interrupts,
    job_history,
    jobs,
    workers,
)
from runtime.api.base import OrisApi
from runtime.api.permissions import Scope
from runtime.errors import NotFound

app_name = "v1"


class RouteNotFoundApi(OrisApi):
    """Unknown /v1 routes answer 404 in the envelope (after authentication)."""

    required_scope = Scope.ANY
    schema = None  # not an endpoint of the OpenAPI document

    def get(self, request: Request, rest: str = "") -> None:
        raise NotFound(f"no route for {request.method} {request.path}")

    post = put = patch = delete = get


class SchemaApi(SpectacularAPIView):
    """``/v1/openapi.json``: public on purpose, like the reference contract it
    describes (it holds no data); ``/docs`` renders it. JSON, as the path says
    (drf-spectacular's default is YAML): ``application/json`` unless the client
    asks for ``application/vnd.oai.openapi+json``."""

    required_scope = Scope.ANY
    permission_classes = [AllowAny]
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer]


class SchemaYamlApi(SchemaApi):
    """``/v1/openapi.yaml``: the same document as YAML."""

    renderer_classes = [OpenApiYamlRenderer2, OpenApiYamlRenderer]


urlpatterns = [
    path("openapi.json", SchemaApi.as_view(), name="openapi"),
    path("openapi.yaml", SchemaYamlApi.as_view(), name="openapi-yaml"),
    path("jobs", jobs.JobCollectionApi.as_view(), name="jobs"),
    path("jobs/run", jobs.JobRunApi.as_view(), name="jobs-run"),
    path("jobs/<str:thread_id>", job_history.JobStateApi.as_view(), name="job"),
    path(
        "jobs/<str:thread_id>/detail",
        job_history.JobDetailApi.as_view(),
        name="job-detail",
    ),
    path(
        "jobs/<str:thread_id>/history",
        job_history.JobHistoryApi.as_view(),
        name="job-history",
    ),
    path(
        "jobs/<str:thread_id>/timeline",
        job_history.JobTimelineApi.as_view(),
        name="job-timeline",
    ),
    path(
        "jobs/<str:thread_id>/timeline/export",
        job_history.JobTimelineExportApi.as_view(),
        name="job-timeline-export",
    ),
    path(
        "jobs/<str:thread_id>/checkpoints/<str:checkpoint>",
        job_history.JobCheckpointApi.as_view(),
        name="job-checkpoint",
    ),
    path(
        "jobs/<str:thread_id>/storage",
        job_history.JobStorageApi.as_view(),
        name="job-storage",
    ),
    path(
        "jobs/<str:thread_id>/usage",
        job_history.JobUsageApi.as_view(),
        name="job-usage",
    ),
    path("jobs/<str:thread_id>/resume", jobs.JobResumeApi.as_view(), name="job-resume"),
    path("jobs/<str:thread_id>/replay", jobs.JobReplayApi.as_view(), name="job-replay"),
    path(
        "jobs/<str:thread_id>/recorded-replay",
        effects.JobReplayRecordedApi.as_view(),
        name="job-replay-recorded",
    ),
    path(
        "jobs/<str:thread_id>/effects",
        effects.JobEffectsApi.as_view(),
        name="job-effects",
    ),
    path("jobs/<str:thread_id>/forks", effects.JobForkApi.as_view(), name="job-forks"),
    path(
        "jobs/<str:thread_id>/compare/<str:other>",
        effects.JobCompareApi.as_view(),
        name="job-compare",
    ),
    path("jobs/<str:thread_id>/cancel", jobs.JobCancelApi.as_view(), name="job-cancel"),
    path("interrupts", interrupts.InterruptListApi.as_view(), name="interrupts"),
    path(
        "interrupts/<str:interrupt_id>",
        interrupts.InterruptDetailApi.as_view(),
        name="interrupt",
    ),
    path(
        "interrupts/<str:interrupt_id>/resume",
        interrupts.InterruptResumeApi.as_view(),
        name="interrupt-resume",
    ),
    path(
        "interrupts/<str:interrupt_id>/reject",
        interrupts.InterruptRejectApi.as_view(),
        name="interrupt-reject",
    ),
    path("workers/poll", workers.WorkerPollApi.as_view(), name="worker-poll"),
    path(
        "workers/<str:worker_id>/heartbeat",
        workers.WorkerHeartbeatApi.as_view(),
        name="worker-heartbeat",
    ),
    path(
        "workers/<str:worker_id>/extend-lease",
        workers.WorkerExtendLeaseApi.as_view(),
        name="worker-extend-lease",
    ),
    path(
        "workers/<str:worker_id>/report-step",
        workers.WorkerReportStepApi.as_view(),
        name="worker-report-step",
    ),
    path(
        "workers/<str:worker_id>/ack", workers.WorkerAckApi.as_view(), name="worker-ack"
    ),
    path("dlq", dlq.DeadLetterListApi.as_view(), name="dlq"),
    path("dlq/<str:attempt_id>", dlq.DeadLetterDetailApi.as_view(), name="dead-letter"),
    path(
        "dlq/<str:attempt_id>/replay",
        dlq.DeadLetterReplayApi.as_view(),
        name="dead-letter-replay",
    ),
    path("audit/logs", audit.AuditLogListApi.as_view(), name="audit-logs"),
    path("graphs", graphs.GraphListApi.as_view(), name="graphs"),
    path("graphs/<str:name>", graphs.GraphDetailApi.as_view(), name="graph"),
    path(
        "attempts/<str:attempt_id>/retries",
        audit.AttemptRetriesApi.as_view(),
        name="attempt-retries",
    ),
    re_path(r"^(?P<rest>.*)$", RouteNotFoundApi.as_view(), name="not-found"),
]
