"""The dashboard and alert rules reference the series /metrics serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs" / "observability"


@pytest.mark.parametrize(
    "series",
    [
        "oris_runtime_queue_depth",
        "oris_runtime_backpressure_total",
        "oris_runtime_dispatch_latency_ms_bucket",
        "oris_runtime_recovery_latency_ms_bucket",
        "oris_runtime_terminal_error_rate",
        "oris_runtime_lease_conflict_rate",
    ],
)
def test_the_dashboard_plots_the_series(series: str) -> None:
    dashboard = json.loads((DOCS / "runtime-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert any(series in expr for expr in exprs)


def test_the_alert_rules_cover_errors_recovery_and_backpressure() -> None:
    rules = (DOCS / "prometheus-alert-rules.yml").read_text()
    for series in (
        "oris_runtime_terminal_error_rate",
        "oris_runtime_recovery_latency_ms_bucket",
        "oris_runtime_backpressure_total",
        "oris_runtime_queue_depth",
    ):
        assert series in rules
