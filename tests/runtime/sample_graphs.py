"""Graphs the runtime tests register (also importable by worker subprocesses).

Side effects are counted in files under ``ORIS_TEST_EFFECTS_DIR`` so that a test can
tell whether a node ran again, even across processes.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, TypedDict

from graphs import END, START, StateGraph


class Counter(TypedDict, total=False):
    trail: list[str]
    value: int


def effects_dir() -> Path:
    return Path(os.environ["ORIS_TEST_EFFECTS_DIR"])


def count_effect(name: str) -> int:
    """Appends one line to the effect file ``name``; returns the new count."""
    path = effects_dir() / name
    with path.open("a") as handle:
        handle.write("x\n")
    return effects(name)


def effects(name: str) -> int:
    path = effects_dir() / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def step(name: str):
    def node(state: Counter) -> dict[str, Any]:
        count_effect(name)
        return {"trail": [*state.get("trail", []), name]}

    node.__name__ = name
    return node


def build_chain() -> StateGraph:
    """a -> b -> c, each counting its runs."""
    graph = StateGraph(Counter)
    graph.add_sequence([step("a"), step("b"), step("c")])
    graph.add_edge(START, "a")
    graph.add_edge("c", END)
    return graph


def flaky(state: Counter) -> dict[str, Any]:
    """Fails until it has been called ``ORIS_TEST_FLAKY_FAILURES`` + 1 times."""
    calls = count_effect("flaky")
    if calls <= int(os.environ.get("ORIS_TEST_FLAKY_FAILURES", "1")):
        raise RuntimeError(f"flaky failure #{calls}")
    return {"trail": [*state.get("trail", []), "flaky"]}


def build_flaky() -> StateGraph:
    """a (counted) -> flaky: a retry must not run ``a`` again."""
    graph = StateGraph(Counter)
    graph.add_sequence([step("a"), flaky])
    graph.add_edge(START, "a")
    graph.add_edge("flaky", END)
    return graph


def crash_once(state: Counter) -> dict[str, Any]:
    """Kills its own process (SIGKILL) the first time it runs."""
    if count_effect("crash") == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"trail": [*state.get("trail", []), "crash_once"]}


def build_crashy() -> StateGraph:
    """a -> b -> crash_once -> c."""
    graph = StateGraph(Counter)
    graph.add_sequence([step("a"), step("b"), crash_once, step("c")])
    graph.add_edge(START, "a")
    graph.add_edge("c", END)
    return graph


def cancel_self(state: Counter) -> dict[str, Any]:
    """Cancels its own job through the service, as an operator would meanwhile."""
    from runtime.models import Job
    from runtime.services.audit import Actor
    from runtime.services.jobs import job_cancel

    job = Job.objects.get(status=Job.Status.RUNNING, graph="self_cancel")
    job_cancel(job=job, actor=Actor.system(), reason="stop")
    return {"trail": ["cancel_self"]}


def build_self_cancel() -> StateGraph:
    graph = StateGraph(Counter)
    graph.add_sequence([cancel_self, step("after_cancel")])
    graph.add_edge(START, "cancel_self")
    graph.add_edge("after_cancel", END)
    return graph


def slow(state: Counter) -> dict[str, Any]:
    """Outlasts a few heartbeat intervals; its value is how far (in ms) its
    lease's heartbeat moved meanwhile."""
    import time

    from runtime.models import Lease

    before = Lease.objects.get().heartbeat_at
    time.sleep(float(os.environ.get("ORIS_TEST_SLOW_SECONDS", "0.5")))
    after = Lease.objects.get().heartbeat_at
    return {"value": round((after - before).total_seconds() * 1000)}


def build_slow() -> StateGraph:
    graph = StateGraph(Counter)
    graph.add_node(slow)
    graph.add_edge(START, "slow")
    graph.add_edge("slow", END)
    return graph


def one_node(node: Any) -> StateGraph:
    graph = StateGraph(Counter)
    graph.add_node(node)
    graph.add_edge(START, node.__name__)
    graph.add_edge(node.__name__, END)
    return graph


def exits(state: Counter) -> dict[str, Any]:
    """Raises SystemExit, as ``sys.exit()`` in a library would."""
    count_effect("exits")
    raise SystemExit(3)


def dies(state: Counter) -> dict[str, Any]:
    """Ends its process at once, as an OOM kill or a C-extension abort would."""
    count_effect("dies")
    os._exit(1)


def loses_database_once(state: Counter) -> dict[str, Any]:
    """The first time, the database ends this worker's connection (PostgreSQL:
    its backend is terminated from another connection) before the step's
    checkpoint is written."""
    import psycopg
    from django.db import connection

    if count_effect("loses_database") == 1:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        db = connection.settings_dict
        with psycopg.connect(
            dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]
        ) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])
    return {"trail": [*state.get("trail", []), "loses_database_once"]}


def build_exits() -> StateGraph:
    return one_node(exits)


def build_dies() -> StateGraph:
    return one_node(dies)


def build_loses_database() -> StateGraph:
    """a -> loses_database_once -> c."""
    graph = StateGraph(Counter)
    graph.add_sequence([step("a"), loses_database_once, step("c")])
    graph.add_edge(START, "a")
    graph.add_edge("c", END)
    return graph


def nap(name: str):
    """A node that takes the input's ``value`` ms, else ``ORIS_TEST_NAP_SECONDS``
    (a run long enough to watch)."""

    def node(state: Counter) -> dict[str, Any]:
        import time

        seconds = float(os.environ.get("ORIS_TEST_NAP_SECONDS", "0.05"))
        time.sleep(state["value"] / 1000 if state.get("value") else seconds)
        return {"trail": [*state.get("trail", []), name]}

    node.__name__ = name
    return node


def build_napper() -> StateGraph:
    """first -> second, each napping."""
    graph = StateGraph(Counter)
    graph.add_sequence([nap("first"), nap("second")])
    graph.add_edge(START, "first")
    graph.add_edge("second", END)
    return graph


def grow(state: Counter) -> dict[str, Any]:
    """Appends one item to ``trail`` (a list stored as a chain of deltas), after
    ``ORIS_TEST_GROW_NAP_SECONDS`` (default none)."""
    import time

    time.sleep(float(os.environ.get("ORIS_TEST_GROW_NAP_SECONDS", "0")))
    trail = state.get("trail", [])
    return {"trail": [*trail, f"s{len(trail)}"]}


def build_grower() -> StateGraph:
    """grow, looping until ``trail`` has ``value`` items (default 12): one
    checkpoint per step, so a thread with a long delta chain."""
    graph = StateGraph(Counter)
    graph.add_node("grow", grow)
    graph.add_edge(START, "grow")
    graph.add_conditional_edges(
        "grow",
        lambda s: END if len(s["trail"]) >= s.get("value", 12) else "grow",
        ["grow", END],
    )
    return graph


TEST_GRAPHS = {
    "grower": "tests.runtime.sample_graphs:build_grower",
    "napper": "tests.runtime.sample_graphs:build_napper",
    "exits": "tests.runtime.sample_graphs:build_exits",
    "dies": "tests.runtime.sample_graphs:build_dies",
    "loses_database": "tests.runtime.sample_graphs:build_loses_database",
    "chain": "tests.runtime.sample_graphs:build_chain",
    "flaky": "tests.runtime.sample_graphs:build_flaky",
    "crashy": "tests.runtime.sample_graphs:build_crashy",
    "self_cancel": "tests.runtime.sample_graphs:build_self_cancel",
    "slow": "tests.runtime.sample_graphs:build_slow",
}
