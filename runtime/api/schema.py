"""OpenAPI pieces: the contract's response schemas and our auth schemes."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

from runtime.api.permissions import Scope


@functools.cache
def _contract() -> dict[str, Any]:
    path = Path(settings.BASE_DIR) / "docs" / "runtime-api-contract.json"
    return json.loads(path.read_text())


def contract_schema(name: str) -> dict[str, Any]:
    """A schema of the reference contract as OpenAPI 3.0 (refs inlined,
    ``[type, "null"]`` as ``nullable``)."""
    schema = copy.deepcopy(_contract()["schemas"][name])
    definitions = schema.pop("definitions", {})
    return _to_openapi(schema, definitions)


def _to_openapi(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_to_openapi(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _to_openapi(definitions[node["$ref"].split("/")[-1]], definitions)
    out = {
        k: _to_openapi(v, definitions)
        for k, v in node.items()
        if k not in ("$schema", "title", "definitions")
    }
    # JSON Schema's ``true`` ("anything") is ``{}`` in OpenAPI.
    if out.get("items") is True:
        out["items"] = {}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {
            k: {} if v is True else v for k, v in out["properties"].items()
        }
    kinds = out.get("type")
    if isinstance(kinds, list):
        others = [k for k in kinds if k != "null"]
        out["type"] = others[0] if len(others) == 1 else "object"
        out["nullable"] = "null" in kinds
    if out.get("type") == "integer" and out.get("format") == "uint":
        out.pop("format")
    variants = out.get("anyOf")
    if variants and any(v == {"type": "null"} for v in variants):
        rest = [v for v in variants if v != {"type": "null"}]
        out.pop("anyOf")
        if len(rest) == 1:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    return out


ERROR = {
    "type": "object",
    "required": ["request_id", "error"],
    "properties": {
        "request_id": {"type": "string"},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "invalid_argument",
                        "unauthorized",
                        "forbidden",
                        "not_found",
                        "conflict",
                        "internal",
                    ],
                },
                "message": {"type": "string"},
                "details": {"nullable": True},
            },
        },
    },
}


# What each error status means on /v1 (every one in the error envelope).
ERRORS = {
    400: "`invalid_argument`: the body, a query parameter or a path id is malformed "
    "or breaks a rule; `error.details.fields` names the fields",
    401: "`unauthorized`: no credential, or a wrong one (the message says when the "
    "server has none configured)",
    403: "`forbidden`: the credential's role may not call this operation",
    404: "`not_found`: no such thread, interrupt, attempt or graph",
    409: "`conflict`: the resource is in a state that refuses the action (already "
    "finished, answered, lease lost, idempotency key reused)",
    429: "`rate limited`: too many requests for this credential; see `Retry-After`",
}
READ_ERRORS = (400, 401, 403, 404, 429)
WRITE_ERRORS = (400, 401, 403, 404, 409, 429)

# Each operation's tag, from the scope its API class declares.
TAGS: dict[Scope, str] = {
    Scope.JOBS: "jobs",
    Scope.INTERRUPTS: "interrupts",
    Scope.WORKERS: "workers",
    Scope.DLQ: "dead letters",
    Scope.AUDIT: "audit",
    Scope.ATTEMPTS: "audit",
    Scope.GRAPHS: "graphs",
}


# What a ``wait_ms`` answer adds to the contract's ``RunJobResponse``.
WAITED: dict[str, Any] = {
    "result": {
        "nullable": True,
        "description": "with `wait_ms`: the output of a completed run",
    },
    "error": {
        "type": "object",
        "nullable": True,
        "description": "with `wait_ms`: why a failed run failed",
        "required": ["type", "message"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
    },
    "pending_interrupts": {
        "type": "array",
        "description": "with `wait_ms`: the interrupts a paused run waits on",
        "items": {
            "type": "object",
            "required": ["interrupt_id", "value"],
            "properties": {"interrupt_id": {"type": "string"}, "value": {}},
        },
    },
}


def documented(
    operation_id: str,
    response: str | dict[str, Any],
    *,
    errors: tuple[int, ...] = WRITE_ERRORS,
    data_extra: dict[str, Any] | None = None,
    **kwargs: Any,
):
    """``extend_schema`` with the contract's envelope (``response`` names one of
    its schemas, or is a schema), properties ``data_extra`` adds to its ``data``,
    and the error envelope for ``errors``."""
    ok = contract_schema(response) if isinstance(response, str) else response
    if data_extra:
        data = ok["properties"]["data"]
        data["properties"] = {**data["properties"], **data_extra}
    responses: dict[int, Any] = {200: ok}
    responses |= {
        status: OpenApiResponse(response=ERROR, description=ERRORS[status])
        for status in errors
    }
    return extend_schema(operation_id=operation_id, responses=responses, **kwargs)


def envelope_schema(data: dict[str, Any]) -> dict[str, Any]:
    """The success envelope around ``data``, for operations the contract lacks."""
    return {
        "type": "object",
        "required": ["meta", "request_id", "data"],
        "properties": {
            "meta": {
                "type": "object",
                "required": ["status", "api_version"],
                "properties": {
                    "status": {"type": "string"},
                    "api_version": {"type": "string"},
                },
            },
            "request_id": {"type": "string"},
            "data": data,
        },
    }


@functools.cache
def contract_summaries() -> dict[tuple[str, str], str]:
    """The contract's one-line summary of each operation, by method and path
    (parameters as ``{}``: the contract and the URLconf name some differently)."""
    return {
        (e["method"].lower(), _unnamed(e["path"])): e["summary"]
        for e in _contract()["endpoints"]
    }


def _unnamed(path: str) -> str:
    return re.sub(r":\w+|\{\w+\}", "{}", path)


class OrisAutoSchema(AutoSchema):
    """drf-spectacular's schema, stating what our fields refuse: a string that is
    blank once trimmed (``minLength``/``pattern``), and the rules a field carries
    as ``Stated`` validators (see ``fields.described``), which services check."""

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        stated = [v.rules for v in field.validators if hasattr(v, "rules")]
        if stated and "oneOf" in schema:  # drf-spectacular's "or blank": refused
            schema.update(schema.pop("oneOf")[0])
        for rules in stated:
            schema.update(rules)
        if isinstance(field, serializers.CharField) and not field.allow_blank:
            schema.setdefault("minLength", 1)
            if field.trim_whitespace:
                schema.setdefault("pattern", r"\S")

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        """Ids in the path are refused when blank once trimmed, as in a body."""
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if schema.get("type") == "string":
                schema.setdefault("pattern", r"\S")
        return parameters

    def get_description(self) -> str:  # type: ignore[override]
        """The API class's own docstring (never one inherited from a base class)."""
        return (type(self.view).__dict__.get("__doc__") or "").strip()

    def get_summary(self) -> str | None:
        """The contract's summary of the operation (``documented(summary=...)``
        for the operations it does not have)."""
        return contract_summaries().get((self.method.lower(), _unnamed(self.path)))

    def get_tags(self) -> list[str]:
        view: Any = self.view  # an OrisApi, which declares its scope
        return [TAGS[view.required_scope]]


class CredentialScheme(OpenApiAuthenticationExtension):
    """Any one of three credentials: a bearer token, a key alone, or a key id and
    its key together (alternatives, not one requirement of all three)."""

    target_class = "runtime.api.auth.CredentialAuthentication"
    name = ["bearerAuth", "apiKey", "apiKeyId"]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list]]:
        return [{"bearerAuth": []}, {"apiKey": []}, {"apiKeyId": [], "apiKey": []}]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "http", "scheme": "bearer"},
            {"type": "apiKey", "in": "header", "name": "x-api-key"},
            {"type": "apiKey", "in": "header", "name": "x-api-key-id"},
        ]


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "runtime.api.auth.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
