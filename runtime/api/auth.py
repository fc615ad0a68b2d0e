"""Credentials for /v1, as the reference reads them.

``Authorization: Bearer <ORIS_API_AUTH_BEARER_TOKEN>`` (admin), ``x-api-key:
<ORIS_API_AUTH_API_KEY>`` (admin), ``x-api-key-id`` + ``x-api-key`` against the
static pair ``ORIS_API_AUTH_API_KEY_ID`` (operator) or ApiKey rows (their role), and
staff sessions for the browsable console. Secrets are compared as SHA-256 digests in
constant time; an API key's row, once read, is kept for ``KEY_READ_SECONDS``. With no
credential configured at all, /v1 refuses everyone unless
``ORIS_API_AUTH_DISABLED=true``.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from runtime import selectors
from runtime.api.principal import Principal
from runtime.models import ApiKey
from runtime.models.access import hash_secret
from runtime.services.api_keys import api_key_touch

KEY_ID_LENGTH = int(ApiKey._meta.get_field("key_id").max_length or 0)
# How long a key's row, once read, answers this process's requests: a key revoked
# or expiring in this process is refused at once, one revoked by another process
# within this many seconds. The secret is checked against the row's hash on
# every request.
KEY_READ_SECONDS = 2.0


def _same(secret: str, expected_plain: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), hash_secret(expected_plain))


def supported_auth() -> list[str]:
    """The credential kinds configured, in the reference's order and names."""
    kinds = []
    if settings.ORIS_API_AUTH_BEARER_TOKEN:
        kinds.append("bearer")
    if settings.ORIS_API_AUTH_API_KEY and not settings.ORIS_API_AUTH_API_KEY_ID:
        kinds.append("x-api-key")
    if settings.ORIS_API_AUTH_API_KEY and settings.ORIS_API_AUTH_API_KEY_ID:
        kinds.append("x-api-key-id+x-api-key")
    if selectors.api_keys_exist():
        kinds.append("sqlite:x-api-key-id+x-api-key")
    return kinds


def _bearer_token(header: str) -> str:
    return header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""


class CredentialAuthentication(BaseAuthentication):
    """Bearer token and API keys; wrong credentials are a 401, none falls through."""

    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        meta = request.META  # the headers, without building ``request.headers``
        bearer = meta.get("HTTP_AUTHORIZATION", "")
        key = meta.get("HTTP_X_API_KEY", "").strip()
        key_id = meta.get("HTTP_X_API_KEY_ID", "").strip()
        if not (bearer or key):
            return None
        # A bearer token that is not ORIS_API_AUTH_BEARER_TOKEN may be an API key.
        principal = self._bearer(bearer) or self._api_key(
            key_id, key or _bearer_token(bearer)
        )
        if principal is None:
            raise AuthenticationFailed("missing or invalid credentials")
        return principal, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="oris"'

    def _bearer(self, header: str) -> Principal | None:
        token = _bearer_token(header)
        expected = settings.ORIS_API_AUTH_BEARER_TOKEN
        if token and expected and _same(token, expected):
            return Principal("bearer", None, "admin")
        return None

    def _api_key(self, key_id: str, secret: str) -> Principal | None:
        if not secret:
            return None
        static_id = settings.ORIS_API_AUTH_API_KEY_ID
        static_secret = settings.ORIS_API_AUTH_API_KEY
        if not key_id:
            if static_secret and not static_id and _same(secret, static_secret):
                return Principal("api_key", None, "admin")
            if ":" not in secret:
                return None
            # One header for clients that send one (LangGraph's SDK and UIs):
            # ``x-api-key: <key id>:<secret>``.
            key_id, secret = secret.split(":", 1)
        if static_id and static_secret and hmac.compare_digest(key_id, static_id):
            return (
                Principal("api_key", key_id, "operator")
                if _same(secret, static_secret)
                else None
            )
        if "\x00" in key_id or len(key_id) > KEY_ID_LENGTH:  # no such row
            return None
        row = selectors.api_key_find(key_id=key_id, max_age=KEY_READ_SECONDS)
        if row is None or not row.is_usable(at=timezone.now()):
            return None
        if not row.matches(secret):
            return None
        api_key_touch(key=row)
        return Principal("api_key", key_id, row.role)


class StaffSessionAuthentication(SessionAuthentication):
    """Console users on /v1 (browsable docs): superusers and ``oris-admin`` are
    admins, ``oris-operator`` members operators; other users are refused."""

    def authenticate(self, request: Request) -> tuple[Principal, None] | None:
        found = super().authenticate(request)
        if found is None:
            return None
        user = found[0]
        if not user.is_staff:
            return None
        groups = set(user.groups.values_list("name", flat=True))
        if user.is_superuser or "oris-admin" in groups:
            role = "admin"
        elif "oris-operator" in groups:
            role = "operator"
        else:
            return None
        return Principal("user", user.get_username(), role), None
