"""Callgrind instructions per operation of ``bench_graphs.py`` rows, both engines.

Wall times on a shared machine move with the load; instruction counts do not. For each
row and engine this runs two processes under ``valgrind --tool=callgrind`` that do the
same set-up and warm-up, then ``N`` and ``2N`` operations, and reports the difference
divided by ``N`` (start-up, imports and warm-up cancel out), then graphs / LangGraph.

    .venv/bin/python bench/callgrind_graphs.py "lc-msgs10 µs/invoke"
    .venv/bin/python bench/callgrind_graphs.py --all        # every row (slow)
    .venv/bin/python bench/callgrind_graphs.py --list

A row's divisor (supersteps per invoke) is applied as in ``bench_graphs.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENGINES = ("graphs", "langgraph")
WARMUP = 20


def child(row: str, engine: str, n: int) -> None:
    """Set up ``engine``'s workloads, warm up, then run ``row`` ``n`` times."""
    sys.path.insert(0, str(ROOT))
    from bench.bench_graphs import Lib, workloads

    op, _ = workloads(Lib(engine))[row]
    for _ in range(WARMUP):
        op()
    for _ in range(n):
        op()


def instructions(row: str, engine: str, n: int) -> int:
    """Callgrind's total instruction count of one child process."""
    with tempfile.TemporaryDirectory(prefix="oris_cg_") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        cmd += [sys.executable, __file__, "--child", row, engine, str(n)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            raise RuntimeError(f"callgrind run failed: {row} {engine}")
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def per_op(row: str, engine: str, n: int, divisor: int) -> float:
    with ThreadPoolExecutor(2) as pool:
        short, long = pool.map(lambda k: instructions(row, engine, k), (n, 2 * n))
    return (long - short) / n / divisor


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="*", help="row names of bench_graphs.py")
    parser.add_argument("--all", action="store_true", help="every row")
    parser.add_argument("--list", action="store_true", help="print the row names")
    parser.add_argument("--n", type=int, default=20, help="operations (and 2x)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.bench_graphs import Lib, workloads

    rows = workloads(Lib("graphs"))
    if args.list:
        print("\n".join(rows))
        return
    names = list(rows) if args.all else args.rows
    if not names:
        parser.error("name a row, or --all / --list")
    print(f"instructions per unit (difference of {args.n} and {2 * args.n} ops)")
    sys.stdout.flush()
    print(f"{'workload':34} {'graphs':>12} {'langgraph':>12} {'ratio':>7}")
    for name in names:
        divisor = rows[name][1]
        ours, theirs = (per_op(name, e, args.n, divisor) for e in ENGINES)
        line = f"{name:34} {ours:12,.0f} {theirs:12,.0f} {ours / theirs:7.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
