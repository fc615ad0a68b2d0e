"""Reads for the API, the console and the CLI (one stack for all three).

Import the functions from here: ``from runtime import selectors``.
"""

from __future__ import annotations

from runtime.selectors.console import (
    TimelineEvent,
    console_counts,
    job_current_nodes,
    job_definition_change,
    job_latest_state,
    job_timeline,
)
from runtime.selectors.history import (
    CheckpointEntry,
    JobState,
    StateChange,
    job_checkpoint_state,
    job_graph,
    job_history,
    job_progress,
    job_state,
    job_timeline_history,
    state_changes,
    thread_config,
)
from runtime.selectors.jobs import (
    SETTLED,
    interrupt_get,
    interrupt_last_pending,
    interrupt_list,
    interrupt_list_pending,
    job_attempts,
    job_dead_letters,
    job_get,
    job_interrupts,
    job_latest_attempt,
    job_list,
    job_wait_settled,
)
from runtime.selectors.records import (
    api_key_find,
    api_keys_exist,
    attempt_get,
    audit_log_list,
    dead_letter_get,
    dead_letter_list,
)

__all__ = [
    "SETTLED",
    "api_key_find",
    "api_keys_exist",
    "CheckpointEntry",
    "JobState",
    "StateChange",
    "TimelineEvent",
    "attempt_get",
    "audit_log_list",
    "console_counts",
    "dead_letter_get",
    "dead_letter_list",
    "interrupt_get",
    "interrupt_last_pending",
    "interrupt_list",
    "interrupt_list_pending",
    "job_attempts",
    "job_checkpoint_state",
    "job_current_nodes",
    "job_dead_letters",
    "job_definition_change",
    "job_get",
    "job_graph",
    "job_history",
    "job_interrupts",
    "job_latest_attempt",
    "job_latest_state",
    "job_list",
    "job_progress",
    "job_state",
    "job_timeline",
    "job_timeline_history",
    "job_wait_settled",
    "state_changes",
    "thread_config",
]
