from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class RuntimeConfig(AppConfig):
    name = "runtime"
    verbose_name = "Oris runtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from runtime import (
            checks,  # noqa: F401  (registers the system checks)
            telemetry,
        )
        from runtime.metrics import register_collector
        from runtime.services.clusters import cluster_worker_spawned
        from runtime.worker import heap

        register_collector()
        if settings.ORIS_OTEL_ENABLED:
            telemetry.setup()
        else:
            telemetry.configure(None)  # model and tool calls counted, not traced
        post_spawn.connect(cluster_worker_spawned, dispatch_uid="oris-cluster-up")
        post_spawn.connect(heap.settle, dispatch_uid="oris-heap-settled")
        if settings.ORIS_Q_LISTEN:
            from runtime.worker import serve

            serve.install()  # q2's workers also serve notified attempts
