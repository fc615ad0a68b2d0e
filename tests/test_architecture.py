"""The layers import one way: graphs/ and agents/ never reach into Django or runtime."""

from __future__ import annotations

import ast
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
