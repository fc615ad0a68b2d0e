"""Message types for agents (defined in :mod:`graphs.messages`, re-exported here).

``to_langchain`` / ``from_langchain`` convert a message to and from its
``langchain_core`` form (ids kept), so an Oris agent can run in a graph whose
state holds LangChain messages, and a LangChain model can answer Oris messages.
"""

from __future__ import annotations

from graphs.messages import *  # noqa: F403 - the same public names
from graphs.messages import __all__ as __all__
