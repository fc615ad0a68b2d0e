"""``ORIS_API_AUTH_DISABLED`` cannot start beside credentials or without DEBUG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start(**env: str) -> subprocess.CompletedProcess[str]:
    """Imports the settings in a fresh interpreter, as a server would."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORIS_API_AUTH")}
    return subprocess.run(
        [sys.executable, "-c", "import oris_site.settings"],
        cwd=ROOT,
        env={**clean, "ORIS_DEBUG": "false", **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"ORIS_API_AUTH_DISABLED": "true"},
        {
            "ORIS_API_AUTH_DISABLED": "true",
            "ORIS_DEBUG": "true",
            "ORIS_API_AUTH_BEARER_TOKEN": "t",
        },
        {
            "ORIS_API_AUTH_DISABLED": "true",
            "ORIS_DEBUG": "true",
            "ORIS_API_AUTH_API_KEY": "k",
        },
    ],
)
def test_it_refuses_to_start_open(env: dict[str, str]) -> None:
    started = start(**env)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr
    assert "ORIS_API_AUTH_DISABLED" in started.stderr


def test_it_starts_open_only_on_a_debug_laptop() -> None:
    assert start(ORIS_API_AUTH_DISABLED="true", ORIS_DEBUG="true").returncode == 0
    assert start().returncode == 0
