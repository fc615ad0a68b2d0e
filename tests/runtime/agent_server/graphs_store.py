"""A graph whose nodes use the store (the Agent Server injects the Django store
into durable runs)."""

from __future__ import annotations

from typing import Any, TypedDict

from graphs import END, START, StateGraph
from graphs.store import BaseStore


class Memory(TypedDict, total=False):
    user: str
    count: int
    users: list[str]


def build_remember() -> Any:
    """``{"user": u}``: counts the user's runs in the store (``("memories", u)``,
    key ``count``), then lists the users the store remembers."""

    def remember(state: Memory, *, store: BaseStore) -> dict[str, Any]:
        namespace = ("memories", state["user"])
        previous = store.get(namespace, "count")
        count = (previous.value["count"] if previous else 0) + 1
        store.put(namespace, "count", {"count": count})
        return {"count": count}

    async def recall(state: Memory, store: BaseStore) -> dict[str, Any]:
        spaces = await store.alist_namespaces(prefix=("memories",))
        return {"users": [ns[1] for ns in spaces]}

    graph = StateGraph(Memory)
    graph.add_node("remember", remember)
    graph.add_node("recall", recall)
    graph.add_edge(START, "remember")
    graph.add_edge("remember", "recall")
    graph.add_edge("recall", END)
    return graph
