"""A worker process's start-up objects, out of the garbage collector's way.

A process that has loaded Django, the registry's graphs and their libraries
holds tens of thousands of long-lived objects (88 000 in the benchmark's), and
each full collection (every tenth middle one, once what survived since the
last outgrows a quarter of the old generation) walks all of them: 60 to 110 ms
of CPU. What keeps objects alive across collections brings the next one
closer: spans queued for export (up to a batch of them live between two
exports) are such objects, and on a ten-superstep chain one full collection in
300 traced invokes cost about as much as the rest of tracing. :func:`settle`
collects once and freezes what is left (``gc.freeze``): the collector no longer
walks it, what the worker makes afterwards is collected as before, and a forked
worker's frozen pages stay shared with its parent.
"""

from __future__ import annotations

import gc


def settle(**_signal: object) -> None:
    """Collects, then freezes every object left (django-q2's ``post_spawn``
    calls it in each worker process, before its first task)."""
    gc.collect()
    gc.freeze()
