"""Namespace and filter rules shared by every store: which namespaces are
valid, which match a pattern, and which values match a search filter."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphs.store.base import ListNamespacesOp, MatchCondition

__all__ = [
    "list_namespaces_result",
    "matches_filter",
    "matches_namespace",
    "validate_filter",
    "validate_namespace",
    "validate_namespace_labels",
]


class InvalidNamespaceError(ValueError):
    """A namespace with an empty, non-string, dotted or reserved label."""


def validate_namespace_labels(namespace: Iterable[Any]) -> None:
    """Raise :class:`InvalidNamespaceError` unless every label is a non-empty
    string without ``"."`` or NUL."""
    namespace = tuple(namespace)
    for label in namespace:
        if not isinstance(label, str):
            raise InvalidNamespaceError(
                f"Invalid namespace label '{label}' found in {namespace}. Namespace "
                f"labels must be strings, but got {type(label).__name__}."
            )
        if "." in label:
            raise InvalidNamespaceError(
                f"Invalid namespace label '{label}' found in {namespace}. Namespace "
                "labels cannot contain periods ('.')."
            )
        if "\x00" in label:
            raise InvalidNamespaceError(
                f"Invalid namespace label '{label}' found in {namespace}. Namespace "
                "labels cannot contain NUL bytes ('\\x00')."
            )
        if not label:
            raise InvalidNamespaceError(
                f"Namespace labels cannot be empty strings. Got {label} in {namespace}"
            )


def validate_namespace(namespace: tuple[str, ...]) -> None:
    """What a put needs: a non-empty namespace of valid labels, not under the
    reserved root ``"langgraph"``."""
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    validate_namespace_labels(namespace)
    if namespace[0] == "langgraph":
        raise InvalidNamespaceError(
            f'Root label for namespace cannot be "langgraph". Got: {namespace}'
        )


def matches_namespace(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    """Whether ``namespace`` starts (or ends) with the condition's pattern."""
    path = condition.path
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path, strict=False)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path), strict=False)
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(want in ("*", label) for label, want in pairs)


def list_namespaces_result(
    namespaces: Iterable[tuple[str, ...]], op: ListNamespacesOp
) -> list[tuple[str, ...]]:
    """The answer to ``op`` given every namespace that holds items: the matching
    ones, cut to ``max_depth``, sorted, without duplicates, paged."""
    conditions = op.match_conditions or ()
    found = {
        ns if op.max_depth is None else ns[: op.max_depth]
        for ns in namespaces
        if all(matches_namespace(c, ns) for c in conditions)
    }
    return sorted(found)[op.offset : op.offset + op.limit]


_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def matches_filter(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Whether an item's value matches a search filter.

    Each filter key names a top-level field; its value is matched exactly
    (nested objects key by key, lists element by element) or with operators
    ``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte`` (the ordered ones
    compare numbers; a missing or non-numeric field does not match).

    Raises:
        ValueError: For an unknown ``$`` operator.
    """
    return not filter or all(_matches(value.get(k), want) for k, want in filter.items())


def validate_filter(filter: Mapping[str, Any] | None) -> None:
    """Raise ``ValueError`` for an unknown ``$`` operator anywhere in ``filter``
    (:func:`matches_filter` finds it only on an item it compares)."""
    for want in (filter or {}).values():
        if isinstance(want, dict):
            for op in want:
                if op.startswith("$") and op not in _OPERATORS:
                    raise ValueError(f"Unsupported operator: {op}")
            validate_filter(want)


def _matches(found: Any, want: Any) -> bool:
    if isinstance(want, dict):
        if any(k.startswith("$") for k in want):
            return all(_compare(found, op, arg) for op, arg in want.items())
        return isinstance(found, dict) and all(
            _matches(found.get(k), v) for k, v in want.items()
        )
    if isinstance(want, (list, tuple)):
        return (
            isinstance(found, (list, tuple))
            and len(found) == len(want)
            and all(_matches(f, w) for f, w in zip(found, want, strict=True))
        )
    return bool(found == want)


def _compare(found: Any, op: str, arg: Any) -> bool:
    if op not in _OPERATORS:
        raise ValueError(f"Unsupported operator: {op}")
    if op == "$eq":
        return bool(found == arg)
    if op == "$ne":
        return bool(found != arg)
    try:
        a, b = float(found), float(arg)
    except (TypeError, ValueError):
        return False
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    return a <= b
