"""The node cache: ``compile(cache=InMemoryCache())`` with ``add_node(...,
cache_policy=CachePolicy(...))`` (LangGraph's ``langgraph.cache``)."""

from graphs.cache.base import BaseCache, CachePolicy, default_cache_key
from graphs.cache.memory import InMemoryCache

__all__ = ["BaseCache", "CachePolicy", "InMemoryCache", "default_cache_key"]
