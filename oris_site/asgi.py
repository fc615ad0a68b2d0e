"""ASGI entry point (uvicorn; gunicorn with ``uvicorn_worker.UvicornWorker``).

The Agent Server API streams Server-Sent Events, which need ASGI. Each request's
database work runs on a thread of its own here, so PostgreSQL connections come from
psycopg's pool (``ORIS_DB_POOL``) instead of being kept per thread.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oris_site.settings")
os.environ.setdefault("ORIS_DB_POOL", "true")

application = get_asgi_application()
