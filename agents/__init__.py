"""agents: chat models, tools, and agent graphs built on ``graphs``."""

from __future__ import annotations
