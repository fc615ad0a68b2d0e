"""``bulk_update_state`` / ``StateUpdate`` and ``update_state``'s special
``as_node`` values (issue 12, item 7), against real LangGraph.

LangGraph also stores an update's writes as pending writes of the checkpoint it
updates (``tasks[i].result`` in the history); ``graphs`` does not (docs/graphs.md),
so the history is compared on steps, sources, ``next`` and values.
"""

from __future__ import annotations

import asyncio
from typing import Any

import langgraph.types as lg_types

import graphs

from ._libs import Lib, chain, history, outcome, plain, same, thread


def update(lib: Lib) -> Any:
    return graphs.StateUpdate if lib.name == "graphs" else lg_types.StateUpdate


def test_supersteps_of_updates_on_a_new_thread() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = chain(lib, "a", "b", "c"), thread()
        up = update(lib)
        done = graph.bulk_update_state(
            config,
            [
                [up({"log": ["u1"]}, "a")],
                [up({"log": ["u2"]}, "b"), up({"log": ["u3"]}, "a")],
            ],
        )
        values = plain(graph.get_state(done).values)
        return history(graph, config), values, plain(graph.invoke(None, config))

    steps, values, _ = same(scenario)
    assert [s[2] for s in steps] == [("b",), ("b", "c")]
    assert values == {"log": ["u1", "u2", "u3"]}  # in the order given


def test_the_async_variant() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = chain(lib, "a", "b"), thread()
        graph.invoke({"log": []}, config)
        updates = [[update(lib)({"log": ["t"]}, "a", None)]]
        asyncio.run(graph.abulk_update_state(config, updates))
        return history(graph, config)

    assert same(scenario)[-1][:3] == (3, "update", ("b",))


def test_an_update_as_input_starts_the_next_run() -> None:
    def scenario(lib: Lib) -> Any:
        graph = chain(lib, "a", "b")
        fresh, used = thread(), thread()
        graph.update_state(fresh, {"log": ["in"]}, as_node="__input__")
        graph.invoke({"log": ["first"]}, used)
        graph.update_state(used, {"log": ["again"]}, as_node="__input__")
        return (
            history(graph, fresh),
            plain(graph.invoke(None, fresh)),
            history(graph, used)[-1][:3],
            plain(graph.invoke(None, used)),
        )

    steps, result, last, _ = same(scenario)
    assert steps == [(-1, "input", ("__start__",), {"log": []})]
    assert result == {"log": ["in", "a", "b"]}
    assert last == (3, "input", ("__start__",))


def test_end_with_no_values_drops_the_pending_tasks() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = chain(lib, "a", "b", interrupt_before=["b"]), thread()
        graph.invoke({"log": []}, config)
        graph.update_state(config, None, as_node=lib.END)
        ended = plain(graph.invoke(None, config))
        graph.update_state(config, {"log": ["x"]})  # attributed as the last one was
        return history(graph, config), ended

    steps, _ = same(scenario)
    assert [s[:3] for s in steps[-2:]] == [(2, "update", ()), (3, "update", ())]


def test_a_copy_followed_by_updates() -> None:
    def scenario(lib: Lib) -> Any:
        graph, config = chain(lib, "a", "b", interrupt_before=["b"]), thread()
        graph.invoke({"log": []}, config)
        cfg = graph.update_state(config, [({"log": ["cp"]}, "a")], as_node="__copy__")
        return history(graph, config), plain(graph.get_state(cfg).values)

    steps, values = same(scenario)
    assert [s[1] for s in steps[-2:]] == ["fork", "update"]
    assert values == {"log": ["a", "cp"]}


def test_bulk_update_errors() -> None:
    def scenario(lib: Lib) -> Any:
        graph, up = chain(lib, "a", "b"), update(lib)

        def bulk(supersteps: Any) -> Any:
            return lambda: graph.bulk_update_state(thread(), supersteps)

        return [
            outcome(bulk([])),
            outcome(bulk([[]])),
            outcome(bulk([[up({"log": []}), up({"log": []}, "a")]])),
            outcome(bulk([[up({"log": []}, "zz")]])),
            outcome(bulk([[up({"log": []}, "__copy__")]])),
            outcome(bulk([[up({"log": []}, "__input__"), up({"log": []}, "a")]])),
        ]

    assert same(scenario)[:2] == [("error", "ValueError")] * 2
