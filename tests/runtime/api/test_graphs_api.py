"""/v1/graphs: the registered graphs, their schemas and diagrams."""

from __future__ import annotations

import pytest

from tests.runtime.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_it_lists_every_registered_graph_with_its_nodes(bob_operator) -> None:
    response = bob_operator.get("/v1/graphs")
    assert response.status_code == 200
    graphs = {g["name"]: g for g in response.json()["data"]["graphs"]}
    assert {"approval", "echo", "assistant", "chain"} <= set(graphs)
    assert graphs["approval"]["nodes"] == [
        "research",
        "write_draft",
        "human_approval",
        "publish",
    ]
    assert graphs["chain"]["source"] == "tests.runtime.sample_graphs:build_chain"
    assert len(graphs["chain"]["definition_hash"]) == 64


def test_it_shows_a_graphs_schemas_and_diagram(alice_admin) -> None:
    response = alice_admin.get("/v1/graphs/approval")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["input_schema"]["properties"]["topic"] == {"type": "string"}
    assert data["input_schema"]["properties"]["approved"] == {"type": "boolean"}
    assert data["input_schema"]["additionalProperties"] is False
    assert data["output_schema"]["title"] == "ApprovalState"
    assert "research --> write_draft" in data["mermaid"]
    # LangGraph's edge shape (``conditional`` only on conditional edges)
    assert {"source": "__start__", "target": "research"} in data["edges"]


def test_an_unknown_graph_is_404_naming_the_known_ones(alice_admin) -> None:
    error = assert_error(alice_admin.get("/v1/graphs/nope"), 404, "not_found")
    assert "approval" in error["details"]["known_graphs"]


def test_a_graph_that_cannot_load_is_listed_with_the_reason(
    alice_admin, settings
) -> None:
    settings.ORIS_GRAPHS = {**settings.ORIS_GRAPHS, "broken": "no.such.module:build"}
    graphs = {
        g["name"]: g for g in alice_admin.get("/v1/graphs").json()["data"]["graphs"]
    }
    assert "cannot be loaded" in graphs["broken"]["error"]
    assert "nodes" in graphs["echo"]
    detail = alice_admin.get("/v1/graphs/broken").json()["data"]
    assert detail["source"] == "no.such.module:build"
    assert "cannot be loaded" in detail["error"]


def test_it_needs_credentials(stranger) -> None:
    assert_error(stranger.get("/v1/graphs"), 401, "unauthorized")
    assert_error(stranger.get("/v1/graphs/echo"), 401, "unauthorized")


def test_workers_may_not_read_graphs(walter_worker) -> None:
    assert_error(walter_worker.get("/v1/graphs"), 403, "forbidden")
