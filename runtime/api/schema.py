"""OpenAPI pieces: the contract's response schemas and our auth schemes."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import serializers


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


def documented(operation_id: str, response: str, **kwargs: Any):
    """``extend_schema`` with the contract's envelope and the error envelope."""
    responses = {200: contract_schema(response)}
    responses |= {status: ERROR for status in (400, 401, 403, 404, 409)}
    return extend_schema(operation_id=operation_id, responses=responses, **kwargs)


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

    def get_description(self) -> str:  # type: ignore[override]
        """The API class's own docstring (never one inherited from a base class)."""
        return (type(self.view).__dict__.get("__doc__") or "").strip()


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
