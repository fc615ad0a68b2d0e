"""State channels: one per key of the state schema (last-value or reduced).

A plain key keeps the last value written and accepts at most one write per
superstep. ``Annotated[T, reducer]`` folds every write of a superstep into the value
with ``reducer(current, update)``, in the deterministic task order.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from typing import Any, get_type_hints

from graphs.errors import InvalidGraphError, InvalidUpdateError
from graphs.messages import bind_reducer, memo_merge
from graphs.types import Overwrite, overwritten

__all__ = ["ROOT", "Channel", "apply_writes", "channels_from_schema", "schema_keys"]

Reducer = Callable[[Any, Any], Any]
ROOT = "__root__"
"""The one channel of a graph whose whole state is a single (reduced) value."""
_MISSING: Any = object()


@dataclasses.dataclass(frozen=True, slots=True)
class Channel:
    """A state key: its name, optional reducer and initial value factory.

    ``merge`` is the reducer again, taking a run's memo as a third argument
    (:func:`graphs.messages.memo_merge`), when it keeps what it prepared there.
    """

    name: str
    reducer: Reducer | None = None
    initial: Callable[[], Any] | None = None
    merge: Callable[[Any, Any, dict[str, Any]], Any] | None = None


def _initial_factory(tp: Any) -> Callable[[], Any] | None:
    origin = typing.get_origin(tp) or tp
    if origin in (list, dict, set, tuple, int, float, str):
        return origin  # type: ignore[no-any-return]
    return None


def _reducer_of(hint: Any) -> tuple[Reducer | None, Any]:
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for item in reversed(meta):
            if callable(item) and not isinstance(item, type):
                return item, base
        return None, base
    return None, hint


def schema_keys(schema: Any) -> dict[str, Any]:
    """Return ``{key: type hint}`` of a TypedDict, dataclass or pydantic-like class.

    Raises:
        InvalidGraphError: If the schema has no annotated keys.
    """
    if schema is dict:
        return {}
    try:
        hints = get_type_hints(schema, include_extras=True)
    except Exception as exc:  # unresolved forward references in user code
        raise InvalidGraphError(
            f"cannot read the state schema {schema!r}: {exc}"
        ) from exc
    return {k: v for k, v in hints.items() if not k.startswith("__")}


def channels_from_schema(schema: Any) -> dict[str, Channel]:
    """Build the channels of a state schema.

    Args:
        schema: A ``TypedDict``, dataclass or pydantic-like class.

    Returns:
        Channel name to :class:`Channel`, in declaration order.
    """
    if typing.get_origin(schema) is typing.Annotated:
        # the whole state is one reduced value: StateGraph(Annotated[list, add])
        reducer, base = _reducer_of(schema)
        return {ROOT: Channel(ROOT, reducer, _initial_factory(base))}
    channels: dict[str, Channel] = {}
    for key, hint in schema_keys(schema).items():
        reducer, base = _reducer_of(hint)
        if reducer is None:
            channels[key] = Channel(key)
            continue
        factory = _initial_factory(base)
        # add_messages keeps the message classes the key declares (Oris/LangChain)
        bound = bind_reducer(reducer, base)
        channels[key] = Channel(key, bound, factory, memo_merge(bound, key))
    return channels


def initial_values(channels: dict[str, Channel]) -> dict[str, Any]:
    """Values of reduced channels that start from their type's empty value."""
    return {
        name: ch.initial() for name, ch in channels.items() if ch.initial is not None
    }


def apply_writes(
    values: dict[str, Any],
    channels: dict[str, Channel],
    writes: Iterable[tuple[str, Any]],
    memo: dict[str, Any] | None = None,
) -> list[str]:
    """Apply one superstep's writes (already in task order) to ``values`` in place.

    Args:
        values: Current channel values; updated in place.
        channels: The graph's channels.
        writes: ``(channel, value)`` pairs; unknown channels are ignored.
        memo: The run's memo, for reducers that keep what they prepared
            (``Channel.merge``).

    Returns:
        The names of the channels that were written, in first-write order.

    Raises:
        InvalidUpdateError: Two writes to a last-value channel, or a reducer failure.
    """
    updated: list[str] = []
    seen: set[str] = set()
    fixed: set[str] | None = None  # keys an Overwrite set in this superstep
    for name, value in writes:
        ch = channels.get(name)
        if ch is None:
            continue
        if name in seen:
            if ch.reducer is None:
                raise InvalidUpdateError(
                    f"At key '{name}': Can receive only one value per step. "
                    "Use an Annotated key to handle multiple values."
                )
        else:
            seen.add(name)
            updated.append(name)
        if ch.reducer is None:
            values[name] = value
            continue
        kind = type(value)  # checked inline: this runs for every reduced write
        is_overwrite = False
        if kind is Overwrite or kind is dict:
            is_overwrite, value = overwritten(value)
        if is_overwrite:
            fixed = fixed if fixed is not None else set()
            if name in fixed:
                raise InvalidUpdateError(
                    f"At key '{name}': Can receive only one Overwrite value "
                    "per super-step."
                )
            fixed.add(name)
            values[name] = value
            continue
        if fixed is not None and name in fixed:
            continue  # like LangGraph: writes after an Overwrite are dropped
        current = values.get(name, _MISSING)
        if current is _MISSING:
            values[name] = value
        elif memo is not None and ch.merge is not None:
            values[name] = ch.merge(current, value, memo)
        else:
            values[name] = ch.reducer(current, value)
    return updated
