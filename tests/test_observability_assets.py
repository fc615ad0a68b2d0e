"""The dashboard and the alert rules: they reference the series /metrics serves,
and a real Prometheus's ``promtool`` accepts the rules and passes their unit
tests (``prometheus-alert-rules.test.yml``). Whether the dashboard's queries
return data against a real Prometheus is checked by
``tests/runtime/test_metrics_workload.py``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime.metrics import PREFIX, SERIES

DOCS = Path(__file__).resolve().parent.parent / "docs" / "observability"
RULES = DOCS / "prometheus-alert-rules.yml"


def dashboard_exprs() -> list[str]:
    dashboard = json.loads((DOCS / "runtime-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_dashboard_keeps_the_reference_identity() -> None:
    dashboard = json.loads((DOCS / "runtime-dashboard.json").read_text())
    assert (dashboard["uid"], dashboard["title"]) == (
        "oris-runtime-overview",
        "Oris Runtime Overview",
    )
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    titles = [p["title"] for p in dashboard["panels"]]
    for reference in (
        "Queue Depth And Backpressure",
        "Dispatch Latency P95",
        "Recovery Latency P95",
        "Error And Lease Conflict Rate",
    ):
        assert reference in titles


@pytest.mark.parametrize("name", sorted(SERIES))
def test_the_dashboard_plots_every_series(name: str) -> None:
    series = SERIES[name]
    metric = PREFIX + name + ("_bucket" if series.kind == "histogram" else "")
    assert any(re.search(rf"\b{metric}\b", expr) for expr in dashboard_exprs())


def test_the_alert_rules_cover_what_an_sre_is_woken_for() -> None:
    rules = RULES.read_text()
    alerts = re.findall(r"alert: (\w+)", rules)
    assert alerts == [
        "OrisRuntimeHighErrorRate",
        "OrisRuntimeHighRecoveryLatency",
        "OrisRuntimeSustainedBackpressure",
        "OrisRuntimeQueueStuck",
        "OrisRuntimeNoLiveWorkers",
        "OrisRuntimeDeadLettersGrowing",
        "OrisRuntimeInterruptWaitingTooLong",
        "OrisRuntimeLeaseConflicts",
    ]
    for name in re.findall(r"\boris_runtime_\w+", rules):
        base = re.sub(r"_(bucket|total)$", "", name.removeprefix(PREFIX))
        assert base in SERIES or f"{base}_total" in SERIES, name


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return subprocess.run(
        ["promtool", *args], cwd=DOCS, capture_output=True, text=True, timeout=60
    )


@pytest.mark.prometheus
def test_promtool_accepts_the_rules() -> None:
    checked = promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 8 rules found" in checked.stdout


@pytest.mark.prometheus
def test_the_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", "prometheus-alert-rules.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.prometheus
def test_promtool_would_catch_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("> 300", "> > 300", 1))
    assert promtool("check", "rules", str(broken)).returncode != 0
