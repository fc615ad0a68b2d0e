"""Starting a run: a new input (the input checkpoint and the START task), a resume
or continuation from the loaded checkpoint, a replay's fork."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from graphs._context import _NO_RESUME
from graphs._requests import Req, Request
from graphs._resume import message_ids, restore_tasks
from graphs._task import NULL_TASK, Task
from graphs.checkpoint.base import checkpoint_config
from graphs.checkpoint.format import new_checkpoint_id
from graphs.errors import EmptyInputError
from graphs.types import Command

if TYPE_CHECKING:
    from graphs._loop import Run

__all__ = ["Replay", "commit_unchanged", "fork", "start"]


class Replay:
    """A replay (time travel) of the root graph, as its subgraphs see it: each
    stateful subgraph, on its first run in it, continues from its latest
    checkpoint older than ``checkpoint_id`` (the replayed checkpoint), as
    LangGraph restores it; later runs of the same node continue normally."""

    __slots__ = ("checkpoint_id", "_seen")

    def __init__(self, checkpoint_id: str) -> None:
        self.checkpoint_id = checkpoint_id
        self._seen: set[str] = set()

    def first_visit(self, ns: str) -> bool:
        """Whether the subgraph of namespace ``ns`` runs for the first time
        (task ids stripped, so a node in a loop is one subgraph)."""
        stable = "|".join(part.split(":")[0] for part in ns.split("|"))
        if stable in self._seen:
            return False
        self._seen.add(stable)
        return True


def start(run: Run) -> Generator[Request, Any, list[Task]]:
    """Load the thread and return the first superstep's tasks: the START task for
    a new input (after its input checkpoint), else the loaded checkpoint's."""
    graph = run.graph
    saver = run.saver
    saved = None
    replayed = False
    if saver is not None:
        config = {"configurable": run._thread_config()}
        replay = run.replay
        if replay is not None and run.ns and replay.first_visit(run.ns):
            saved = yield Req.GET_BEFORE, (config, replay.checkpoint_id)
            replayed = True
        else:
            saved = yield Req.GET, config
    inp = run.input
    resume = _NO_RESUME
    if isinstance(inp, Command) and inp.resume is not None:
        resume = inp.resume
    if (
        run.parent is not None
        and saved is not None
        and saved.checkpoint.get("next")
        and not replayed
    ):
        resume = resume_from_parent(run)
        inp = None
    fresh = not (inp is None or resume is not _NO_RESUME)
    run._resumed = False
    if saved is not None:
        run._load(saved)
    # LangGraph's bound: supersteps up to `recursion_limit + 1` past the first
    # step of this run (the one after the loaded checkpoint; -1 on a new thread)
    first = run.step + 1 if saved is not None else -1
    run.stop = first + run.recursion_limit + 1
    if not fresh:
        if saved is None:
            if resume is not _NO_RESUME:
                raise EmptyInputError(
                    "Cannot resume: no checkpoint found for this thread"
                )
            raise EmptyInputError("Received no input and no checkpoint to resume")
        run._resumed = True
        if resume is not _NO_RESUME:
            run.event("resume_received")
        if isinstance(inp, Command) and inp.update is not None:
            yield from null_update(run, inp)
        tasks = yield from restore(run, saved, resume)
        ledger = run.effects
        if ledger is not None and ledger.recording and tasks and saved.config:
            # the tasks continue the loaded checkpoint's superstep: what they
            # already did is answered from the ledger
            ledger.load((yield Req.EFFECTS, saved.config))
        if "messages" in run.modes:
            run.streamed.update(message_ids(run.values))
        if "values" in run.modes:
            run.emit("values", run.streamed_values())
        return tasks
    # A new run: the input becomes the writes of the START task, which runs as
    # the first superstep (applying them, with START's conditional edges).
    if saved is None:
        run.values = graph.initial_values()
    bare = isinstance(inp, Command)
    start = Task(run, graph.start_goto if bare else graph.start_node, 0, False, None)
    start.writes, start.gotos, start.sends = graph.input_writes(inp)
    start.update = inp
    start.restored = True
    if not bare:
        # LangGraph's input checkpoint: the state before the input, the START
        # task next (its writes are kept in the checkpoint's `next`). A Command
        # input writes none: like an update, it is applied by the next step.
        run.step = first
        if saver is not None:
            yield from commit_unchanged(run, "input", [start], [])
    return [start]


def null_update(run: Run, command: Command[Any]) -> Generator[Request, Any, None]:
    """A resume's ``update``: kept as writes of no task on the loaded
    checkpoint (as LangGraph does) and applied before its tasks run."""
    writes, _, _ = run.graph.input_writes(Command(update=command.update))
    if run.saver is not None and run.parent is None:
        cfg = checkpoint_config(run.thread_id, run.ns, run.checkpoint_id)
        yield Req.WRITES, (cfg, writes, NULL_TASK)
    run.apply_null_writes(writes)


def restore(run: Run, saved: Any, resume: Any) -> Generator[Request, Any, list[Task]]:
    """The tasks of the loaded checkpoint; replaying an older checkpoint first
    forks it (a copy the run continues from, so the old branch stays)."""
    meta = saved.metadata or {}
    addressed = (
        run.saver is not None
        and run.parent is None
        and resume is _NO_RESUME
        and bool((run.config.get("configurable") or {}).get("checkpoint_id"))
    )
    forked = meta.get("source") in ("update", "fork")
    if addressed:
        # subgraphs restore their state as of the replayed checkpoint (of the
        # one an update forked from, which their checkpoints are older than)
        parent_id = (saved.parent_config or {}).get("configurable", {})
        bound = parent_id.get("checkpoint_id") if forked else None
        run.replay = Replay(bound or saved.checkpoint["id"])
    if not (addressed and not forked):
        tasks = restore_tasks(run, saved, resume)
        if "debug" in run.modes or "checkpoints" in run.modes:
            # LangGraph streams the checkpoint a run continues from
            run.emit_checkpoint(meta, saved.parent_config, saved.config, tasks)
        return tasks
    return (yield from fork(run, saved, resume))


def fork(
    run: Run, saved: Any, resume: Any = _NO_RESUME
) -> Generator[Request, Any, list[Task]]:
    """Commit a copy of the loaded checkpoint (``source: fork``, the next
    step) with its tasks, none of them done; return those tasks."""
    run.checkpoint_id = new_checkpoint_id()  # new task ids: every task re-runs
    tasks = restore_tasks(run, saved._replace(pending_writes=None), resume)
    run.step += 1
    last = list(saved.checkpoint.get("last") or ())
    yield from commit_unchanged(run, "fork", tasks, last)
    return tasks


def commit_unchanged(
    run: Run, source: str, tasks: list[Task], last: list[str]
) -> Generator[Request, Any, None]:
    """Commit a checkpoint of the current values with ``tasks`` next."""
    if run.saver is None:
        return
    if not run.checkpoint_id or source == "input":
        run.checkpoint_id = new_checkpoint_id()
    run._updated, run._prev, run._last, run._next = [], None, last, tasks
    yield from run._commit(source)


def resume_from_parent(run: Run) -> Any:
    task = run.parent
    assert task is not None
    if task.resume_map:
        value, task.resume_map = task.resume_map, None
        return value
    if task.null_resume is not _NO_RESUME:
        value, task.null_resume = task.null_resume, _NO_RESUME
        return value
    got = task.run.take_null_resume()
    return got if got is not _NO_RESUME else _NO_RESUME
