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
        if not isinstance(request, ASGIRequest):
            return WhiteNoiseMiddleware.serve(static_file, request)
        found = static_file.get_response(request.method, request.META)
        body = b""
        if found.file is not None:  # none for a HEAD or a 304
            with found.file as file:
                body = file.read()  # a range's slice, for a range
        response = HttpResponse(body, status=int(found.status))
        del response["Content-Type"]  # WhiteNoise's, if any
        for key, value in found.headers:
            response[key] = value
        return response
