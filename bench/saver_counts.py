"""Per-superstep costs of ``DjangoSaver`` that do not depend on the machine's load:
function calls and CPU time per superstep and, with ``--callgrind``, client-side
instructions counted by valgrind.

The workload is the Oris side of ``bench_runtime.py --only saver``: a 10-node
chain of ``inc`` compiled with ``DjangoSaver()``, one invoke per fresh thread,
on PostgreSQL (a database of its own, created and dropped) and on SQLite (a
temporary file)::

    .venv/bin/python bench/saver_counts.py               # calls, CPU
    .venv/bin/python bench/saver_counts.py --callgrind   # + instructions (minutes)

Instructions are the difference of two runs of different lengths (``N`` and
``4N`` invokes) divided by ``3N`` and by the 10 supersteps of an invoke, so
start-up cancels out.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("ORIS_BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

from bench.bench_api import PG_SERVER, pg_execute  # noqa: E402
from bench.bench_counts import callgrind_ir, child_result  # noqa: E402

PY = sys.executable
PG_DB = os.environ.get("ORIS_BENCH_DB_PREFIX", "oris_bench") + "_saver_counts"
SIZE = 10  # supersteps per invoke, as bench_runtime's saver role


def chain() -> Callable[[], Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
    import django

    django.setup()
    from bench.bench_runtime import build_chain
    from runtime.checkpointer import DjangoSaver

    graph = build_chain(SIZE).compile(checkpointer=DjangoSaver())
    prefix, ids = f"counts-{uuid.uuid4().hex[:8]}", itertools.count()

    def invoke() -> Any:  # a fresh thread per call
        config = {"configurable": {"thread_id": f"{prefix}-{next(ids)}"}}
        return graph.invoke({"n": 0}, config)

    for _ in range(3):  # warm: first-use costs
        invoke()
    return invoke


def role_counts(args: argparse.Namespace) -> None:
    invoke = chain()
    calls = 0

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(hook)
    try:
        for _ in range(args.n):
            invoke()
    finally:
        sys.setprofile(None)
    started = time.process_time()
    for _ in range(args.n):
        invoke()
    cpu = time.process_time() - started
    steps = args.n * SIZE
    print("RESULT " + json.dumps({"calls": calls / steps, "cpu_ms": cpu / steps * 1e3}))


def role_loop(args: argparse.Namespace) -> None:
    invoke = chain()
    for _ in range(args.n):
        invoke()


def measure(backend: str, env: dict[str, str], args: argparse.Namespace) -> str:
    role = ("--role", "counts", "--n", str(args.n))
    counts = child_result(env, __file__, *role, root=ROOT)
    ir = ""
    if args.callgrind:
        short, long = (
            callgrind_ir(env, __file__, "--role", "loop", "--n", str(k), root=ROOT)
            for k in (args.n, 4 * args.n)
        )
        ir = f"{(long - short) / (3 * args.n) / SIZE / 1e3:.0f} k"
    return f"| {backend} | {counts['calls']:.0f} | {counts['cpu_ms']:.3f} | {ir} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=10, help="invokes (callgrind: N, 4N)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions")
    parser.add_argument("--backends", nargs="*", default=["postgres", "sqlite"])
    args = parser.parse_args()
    roles = {"counts": role_counts, "loop": role_loop}
    if args.role in roles:
        roles[args.role](args)
        return 0
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_")}
    base.pop("DATABASE_URL", None)
    base.update(
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="oris_site.settings",
        ORIS_BENCH_ROOT=str(ROOT),  # another tree's code, measured by this script
        ORIS_SECRET_KEY="bench-not-secret",
        ORIS_LOG_LEVEL="WARNING",
    )
    print("| database | calls per superstep | CPU ms per superstep | instructions |")
    print("|---|---:|---:|---:|")
    for backend in args.backends:
        if backend == "postgres":
            pg_execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            pg_execute(f'CREATE DATABASE "{PG_DB}"')
            try:
                env = base | {"DATABASE_URL": f"{PG_SERVER}/{PG_DB}"}
                print(measure(backend, env, args), flush=True)
            finally:
                pg_execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        else:
            with tempfile.TemporaryDirectory() as tmp:
                env = base | {"ORIS_SQLITE_DB": str(Path(tmp) / "saver.db")}
                print(measure(backend, env, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
