"""LangGraph's Agent Server API ("Agent Protocol"), served from the root of the site
beside /v1 so that ``langgraph-sdk``, ``RemoteGraph`` and LangGraph's UIs work
unchanged: assistants, threads, runs (with Server-Sent Events), the store and crons.

Same credentials, roles, request ids, audit and services as /v1; errors in the
Agent Server's shape, ``{"detail": "..."}`` with 404, 409 and 422 as its clients
expect (``base.exception_handler``).
"""
