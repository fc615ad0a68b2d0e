"""The options of one run, decided once by the public entry points.

``invoke``/``ainvoke``/``stream``/``astream``/``run`` each turn their keywords into
one :class:`RunOptions`; everything below them (the loop, subgraph runs) reads that
object, so an entry point that forwards to another cannot drop an option.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

if TYPE_CHECKING:
    from graphs._events import EventStream

__all__ = [
    "STREAM_MODES",
    "Durability",
    "RunOptions",
    "StreamMode",
    "node_names",
    "stream_modes",
]

StreamMode = Literal[
    "values", "updates", "custom", "messages", "debug", "tasks", "checkpoints"
]
Durability = Literal["sync", "async", "exit"]
STREAM_MODES: tuple[StreamMode, ...] = get_args(StreamMode)
_DURABILITIES: tuple[Durability, ...] = get_args(Durability)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """How one run behaves, apart from its input and config.

    Args:
        modes: Stream modes the caller reads (empty: nothing is streamed).
        single: One mode was asked as a string: chunks come without the mode.
        subgraphs: Subgraphs' chunks reach the caller, with their namespace.
        durability: When checkpoints are written: ``sync``, ``async`` or ``exit``.
        interrupt_before: Breakpoints overriding the compiled ones (``None``: keep).
        interrupt_after: Likewise, after the nodes ran.
        step_hook: Called with the step after each superstep's checkpoint.
        trace: Record trace events (``RunResult.trace``).
        catch_errors: A node failure ends the run as ``failed`` instead of raising.
        events: The ``astream_events`` call the run reports to (subgraphs too).
        context: The run's ``context`` (``Runtime.context``; subgraphs too).
    """

    modes: frozenset[StreamMode] = frozenset()
    single: bool = True
    subgraphs: bool = False
    durability: Durability = "async"
    interrupt_before: tuple[str, ...] | None = None
    interrupt_after: tuple[str, ...] | None = None
    step_hook: Callable[[int], None] | None = None
    trace: bool = False
    catch_errors: bool = False
    events: EventStream | None = None
    context: Any = None

    def __post_init__(self) -> None:
        if self.durability not in _DURABILITIES:
            raise ValueError(
                f"unknown durability {self.durability!r}; expected one of "
                f"{_DURABILITIES}"
            )

    def for_child(self) -> RunOptions:
        """The options of a subgraph run inside a task of this run."""
        return RunOptions(
            modes=self.modes if self.subgraphs else frozenset(),
            single=self.single,
            subgraphs=self.subgraphs,
            durability=self.durability,
            events=self.events,
            context=self.context,
        )

    def streaming(
        self, stream_mode: str | Sequence[str], subgraphs: bool = False
    ) -> RunOptions:
        """These options, streaming ``stream_mode``."""
        modes, single = stream_modes(stream_mode)
        return replace(self, modes=modes, single=single, subgraphs=subgraphs)


def stream_modes(
    stream_mode: str | Sequence[str],
) -> tuple[frozenset[StreamMode], bool]:
    """The modes asked for, and whether a single mode was given as a string.

    Raises:
        ValueError: For a mode that is not one of :data:`STREAM_MODES`.
    """
    single = isinstance(stream_mode, str)
    asked = (stream_mode,) if isinstance(stream_mode, str) else tuple(stream_mode)
    modes: list[StreamMode] = []
    for mode in asked:
        if mode not in STREAM_MODES:
            raise ValueError(
                f"unknown stream_mode {mode!r}; expected one of {STREAM_MODES}"
            )
        modes.append(cast(StreamMode, mode))
    return frozenset(modes), single


def node_names(names: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Breakpoint names as a tuple (``None`` stays ``None``: keep the compiled ones)."""
    if names is None:
        return None
    return (names,) if isinstance(names, str) else tuple(names)
