"""A worker's start-up objects are frozen out of the collector's way."""

from __future__ import annotations

import gc
import weakref

from django_q.signals import post_spawn


class _Cycle:
    def __init__(self) -> None:
        self.me = self  # only the collector frees it


def test_a_spawned_worker_freezes_its_start_up_heap_and_still_collects() -> None:
    before = _Cycle()  # alive at start-up
    kept = weakref.ref(before)
    try:
        post_spawn.send(sender="django_q", proc_name="Process-1")  # as q2 does
        assert gc.get_freeze_count() > 1000  # the start-up's objects
        del before  # garbage now, but frozen: the collector skips it
        later = _Cycle()
        gone = weakref.ref(later)
        del later
        gc.collect()
        assert gone() is None  # what the worker makes afterwards is collected
        assert kept() is not None
    finally:
        gc.unfreeze()  # the rest of the suite as it was
    gc.collect()
    assert kept() is None
