"""ASGI entry point (uvicorn; gunicorn with ``uvicorn_worker.UvicornWorker``).

The Agent Server API streams Server-Sent Events, which need ASGI. Each request's
database work runs on a thread of the event loop's pool here, so PostgreSQL
connections come from psycopg's pool (``ORIS_DB_POOL``) instead of being kept per
thread.

``OneHopHandler`` is Django's ASGI handler with the request's synchronous part,
its middleware chain and its view (every view of the site is synchronous), run
as Django runs them under WSGI, in one call on one of the loop's threads. Django's
own handler runs a synchronous chain under ASGI as a string of hops between the
event loop and a thread made for each request (the chain, back to the loop for
the view's resolution, to the thread again for each middleware's ``process_view``
and for the view, and back); an answer's body (a stream, a ``runs.wait``) is sent
from the loop as before. The requests' threads are a pool of their own
(``REQUEST_THREADS``, made as needed): a view that blocks (a cancel that waits
for its run's end) holds one of them, not one of the loop's few threads that
the streams' and waits' short looks use.

Django's own receivers of ``request_started`` (``reset_queries``,
``close_old_connections``) act on the calling thread's connections: they run on
the request's thread, first in its call, as under WSGI, instead of on asgiref's
shared thread (one hop there and back a request fewer). Only the response's
close (``request_finished``'s receivers) still takes that thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.db import close_old_connections, reset_queries
from django.http import HttpRequest, HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
os.environ.setdefault("ORIS_DB_POOL", "true")

# At most this many requests run their synchronous part at once (Django's own
# handler has no bound: a thread per request); the rest wait for a thread.
REQUEST_THREADS = 64
# Django's receivers of ``request_started``, run on the request's thread.
_ON_REQUEST_THREAD = (reset_queries, close_old_connections)


class OneHopHandler(ASGIHandler):
    """Django's ASGI handler, its middleware chain built synchronous and run with
    the view in one call on a thread of its pool, with no thread made per
    request."""

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self.threads = ThreadPoolExecutor(REQUEST_THREADS, "oris-request")
        for receiver in _ON_REQUEST_THREAD:
            signals.request_started.disconnect(receiver)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Django's handler wraps this in asgiref's ThreadSensitiveContext: a new
        # thread for each request's synchronous calls. The chain runs on the
        # loop's pool instead; the signals' and the close's few receivers on
        # asgiref's one shared thread.
        if scope["type"] != "http":
            raise ValueError(
                f"Django can only handle ASGI/HTTP connections, not {scope['type']}."
            )
        await self.handle(scope, receive, send)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return await loop.run_in_executor(
            self.threads, context.run, self._respond, request
        )

    def _respond(self, request: HttpRequest) -> HttpResponseBase:
        for receiver in _ON_REQUEST_THREAD:
            receiver()
        try:
            return self.get_response(request)
        finally:
            # The request's connection goes back to the pool at once (``request
            # _finished`` is sent later, from another thread).
            close_old_connections()


django.setup(set_prefix=False)
application = OneHopHandler()
