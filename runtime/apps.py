from __future__ import annotations

from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "runtime"
    verbose_name = "Oris runtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from agents.observers import add_observer
        from runtime import checks  # noqa: F401  (registers the system checks)
        from runtime.metrics import CALLS, register_collector
        from runtime.services.clusters import cluster_worker_spawned

        register_collector()
        add_observer(CALLS)  # the model and tool calls of agents, counted
        post_spawn.connect(cluster_worker_spawned, dispatch_uid="oris-cluster-up")
