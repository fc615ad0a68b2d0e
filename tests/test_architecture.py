"""The layers import one way: graphs/ and agents/ never reach into Django or runtime."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("django", "rest_framework", "django_q", "drf_spectacular", "runtime")
FORBIDDEN_IN_GRAPHS = (*FORBIDDEN, "agents", "httpx")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in imported_modules(path)
        if module.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("graphs", FORBIDDEN_IN_GRAPHS), ("agents", FORBIDDEN)],
)
def test_layer_imports_nothing_above_it(
    package: str, forbidden: tuple[str, ...]
) -> None:
    assert (ROOT / package / "__init__.py").exists(), f"{package}/ is missing"
    assert violations(package, forbidden) == []


def test_it_detects_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom django.db import models\nfrom . import sibling\n"
    )
    assert imported_modules(module) == [(1, "os"), (2, "django.db")]


def runtime_modules(part: str) -> list[Path]:
    base = ROOT / "runtime" / part
    return sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]


@pytest.mark.parametrize(
    ("part", "forbidden"),
    [
        ("models", ("runtime.services", "runtime.selectors", "runtime.api")),
        ("services", ("runtime.api", "runtime.admin", "runtime.worker")),
        ("selectors", ("runtime.api", "runtime.admin", "runtime.worker")),
        ("api", ("runtime.admin", "runtime.worker")),
        ("admin", ("runtime.api", "runtime.worker")),
        ("worker", ("runtime.api", "runtime.admin")),
    ],
)
def test_runtime_layers_import_one_way(part: str, forbidden: tuple[str, ...]) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in runtime_modules(part)
        for line, module in imported_modules(path)
        if module.startswith(forbidden)
    ]
    assert found == []


def test_leases_do_not_import_attempts() -> None:
    """Outcomes release leases; leases know nothing of outcomes (no cycle)."""
    leases = ROOT / "runtime" / "services" / "leases.py"
    tree = ast.parse(leases.read_text())
    names = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
    ]
    assert [n for n in names if "attempts" in n] == []


def sql_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are SQL statements (f-strings' literal
    parts included)."""
    verbs = re.compile(r"\b(SELECT|UPDATE|INSERT INTO|DELETE FROM)\b")
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and verbs.search(node.value)
    ]


def test_no_status_literal_is_typed_into_sql() -> None:
    """Hot-path SQL renders its statuses from the TextChoices and transition
    tables, so a status renamed or added cannot leave a stale copy behind."""
    from runtime.models import Attempt, Interrupt, Job

    statuses = {
        s.value for choices in (Job, Attempt, Interrupt) for s in choices.Status
    }
    literal = re.compile("'(" + "|".join(sorted(statuses)) + ")'")
    found = [
        f"{path.relative_to(ROOT)}:{line}: {match.group(0)}"
        for path in sorted((ROOT / "runtime").rglob("*.py"))
        if "migrations" not in path.parts
        for line, sql in sql_strings(path)
        for match in literal.finditer(sql)
    ]
    assert found == []


def test_it_finds_a_status_literal_in_sql(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "X = f\"UPDATE t SET status = 'running' WHERE id = {1}\"\nY = 'running'\n"
    )
    assert sql_strings(module) == [(1, "UPDATE t SET status = 'running' WHERE id = ")]


# --- runtime/api: views validate, call one service, present --------------------------

VIEW_METHODS = {"get", "post", "put", "patch", "delete"}
MAX_VIEW_LINES = 30
ORM_ATTRIBUTES = {"objects", "refresh_from_db", "select_for_update", "save"}


def thick_views(source: str) -> list[str]:
    """HTTP-method functions of classes that run over ``MAX_VIEW_LINES`` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name in VIEW_METHODS:
                length = item.end_lineno - item.lineno + 1
                if length > MAX_VIEW_LINES:
                    found.append(f"{node.name}.{item.name}: {length} lines")
    return found


def orm_uses(source: str) -> list[str]:
    """``Model.objects`` and row-writing calls: the API reads through selectors and
    writes through services."""
    return [
        f"line {node.lineno}: .{node.attr}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in ORM_ATTRIBUTES
    ]


API_MODULES = sorted((ROOT / "runtime" / "api").glob("*.py"))


@pytest.mark.parametrize("path", API_MODULES, ids=lambda p: p.name)
def test_api_views_are_thin_and_never_touch_the_orm(path: Path) -> None:
    source = path.read_text()
    assert thick_views(source) == []
    assert orm_uses(source) == []


def test_it_detects_a_thick_view_and_an_orm_query() -> None:
    body = "\n".join(f"        x{n} = {n}" for n in range(30))
    source = (
        "class JobApi:\n"
        "    def post(self, request):\n"
        f"{body}\n"
        "    def get(self, request):\n"
        "        return Job.objects.filter(pk=1)\n"
        "    def helper(self):\n"
        f"{body}\n"
    )
    assert thick_views(source) == ["JobApi.post: 31 lines"]
    assert orm_uses(source) == ["line 34: .objects"]


CONSOLE_MODULES = sorted((ROOT / "runtime" / "admin").glob("*.py"))
CONSOLE_MODULES.append(ROOT / "runtime" / "management" / "commands" / "oris.py")


@pytest.mark.parametrize("path", CONSOLE_MODULES, ids=lambda p: p.name)
def test_the_console_and_cli_read_through_selectors(path: Path) -> None:
    assert orm_uses(path.read_text()) == []
