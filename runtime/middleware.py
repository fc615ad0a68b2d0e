"""Django's messages middleware, for requests that never use messages."""

from __future__ import annotations

from django.contrib.messages import middleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty


class MessageMiddleware(middleware.MessageMiddleware):
    """Django's, with the request's message storage made when it is first used
    (a message added, the messages read) rather than for every request: an API
    request, which does neither, builds no storage (a cookie signer, the session
    backend) and has none to store in its response."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(
        self, request: HttpRequest, response: HttpResponse
    ) -> HttpResponse:
        storage = getattr(request, "_messages", None)
        unused = getattr(storage, "_wrapped", None) is empty  # a lazy one not made
        if isinstance(storage, SimpleLazyObject) and unused:
            return response  # never used: nothing to store
        return super().process_response(request, response)
