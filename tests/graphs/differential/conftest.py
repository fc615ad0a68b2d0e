"""The differential suite needs real LangGraph (the ``dev`` extra): without it
the suite is not collected."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("langgraph") else ["test_*.py"]
