"""WhiteNoise's static files, answered whole under ASGI.

WhiteNoise streams a file with a synchronous iterator. Django's ASGI handler
cannot send such a body as it is read: it warns ("StreamingHttpResponse must
consume synchronous iterators") and reads the whole file into a list on a
thread of its own first. Under ASGI the file is read here instead, on the
thread the middleware already runs on, into a plain response with WhiteNoise's
headers (caching, compression, ranges): the same bytes, no warning, one thread
hop fewer. Under WSGI the file streams as before.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> HttpResponseBase:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        if not isinstance(request, ASGIRequest) or not response.streaming:
            return response
        try:
            body = b"".join(response.streaming_content)
        finally:
            response.close()
        whole = HttpResponse(body, status=response.status_code)
        del whole["Content-Type"]  # WhiteNoise's, if any
        for key, value in response.items():
            whole[key] = value
        return whole
