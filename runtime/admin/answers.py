"""What an operator answers an interrupt with: a template for the JSON answer,
and a form generated from a request's declared response schema.

A graph declares the answer it expects by putting a JSON schema under
``response_schema`` in the interrupt's value (an object schema: each property
becomes a field, ``required`` and ``enum``/``minimum``/``maxLength``... are
checked by the form). Without one, a tool approval is answered with its
decisions and any other request with ``true`` (a yes/no approval).
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from runtime.admin.formatting import approve_all, is_tool_approval

SCHEMA_KEY = "response_schema"


def response_schema(value: Any) -> dict[str, Any] | None:
    """The object schema a request declares for its answer, if it declares one."""
    if not isinstance(value, dict):
        return None
    schema = value.get(SCHEMA_KEY)
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties")
    return schema if isinstance(properties, dict) and properties else None


def answer_template(value: Any) -> Any:
    """The answer the JSON box starts from (never the request itself)."""
    schema = response_schema(value)
    if schema is not None:
        return {
            name: _default(prop)
            for name, prop in schema["properties"].items()
            if isinstance(prop, dict)
        }
    if is_tool_approval(value):
        return approve_all(value)
    return True


def template_is_an_answer(value: Any) -> bool:
    """Whether the template answers the request as it stands: every required
    property of a declared schema has a default (or is a yes/no)."""
    schema = response_schema(value)
    if schema is None:
        return True
    properties = schema["properties"]
    return all(
        isinstance(properties.get(name), dict)
        and ("default" in properties[name] or properties[name].get("type") == "boolean")
        for name in schema.get("required") or ()
    )


def _default(prop: dict[str, Any]) -> Any:
    if "default" in prop:
        return prop["default"]
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        return prop["enum"][0]
    kind = prop.get("type")
    return {
        "boolean": True,
        "string": "",
        "integer": 0,
        "number": 0,
        "array": [],
        "object": {},
    }.get(kind if isinstance(kind, str) else "")


class JsonField(forms.CharField):
    """A JSON value of one schema type (arrays, objects, untyped properties)."""

    def __init__(self, *, kind: str | None, **kwargs: Any) -> None:
        super().__init__(widget=forms.Textarea(attrs={"rows": 3}), **kwargs)
        self.kind = kind

    def prepare_value(self, value: Any) -> Any:
        return value if isinstance(value, str) else json.dumps(value)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        expected = {"array": list, "object": dict}.get(self.kind or "")
        if expected is not None and not isinstance(parsed, expected):
            raise forms.ValidationError(f"Must be a JSON {self.kind}.")
        return parsed


class SchemaAnswerForm(forms.Form):
    """One field per property of the declared schema; ``answer()`` is the value
    sent (a property left empty and not required is left out)."""

    def __init__(self, *args: Any, schema: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = schema
        required = set(schema.get("required") or ())
        for name, prop in schema["properties"].items():
            if isinstance(prop, dict):
                field = _field(prop, name, name in required)
                default = _default(prop)
                choices = isinstance(field, forms.TypedChoiceField)
                field.initial = json.dumps(default) if choices else default
                self.fields[f"answer_{name}"] = field

    def answer(self) -> dict[str, Any]:
        result = {}
        for name in self.schema["properties"]:
            key = f"answer_{name}"
            if key not in self.cleaned_data:
                continue
            value = self.cleaned_data[key]
            if value in (None, "") and not self.fields[key].required:
                continue
            result[name] = value
        return result


def _field(prop: dict[str, Any], name: str, required: bool) -> forms.Field:
    label = str(prop.get("title") or name)
    options: dict[str, Any] = {  # Any: the stubs type each keyword apart
        "label": label,
        "required": required,
        "help_text": str(prop.get("description") or ""),
    }
    kind = prop.get("type")
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return forms.TypedChoiceField(
            choices=[(json.dumps(v), str(v)) for v in enum],
            coerce=json.loads,
            **options,
        )
    if kind == "boolean":
        # Unchecked is an answer too (``false``), so a boolean is never required.
        return forms.BooleanField(**{**options, "required": False})
    if kind == "string":
        limits: dict[str, Any] = {
            "min_length": prop.get("minLength"),
            "max_length": prop.get("maxLength"),
        }
        long = (prop.get("maxLength") or 1000) > 200
        widget = forms.Textarea(attrs={"rows": 3}) if long else forms.TextInput()
        return forms.CharField(widget=widget, strip=False, **options, **limits)
    if kind in ("integer", "number"):
        cls = forms.IntegerField if kind == "integer" else forms.FloatField
        return cls(
            min_value=prop.get("minimum"), max_value=prop.get("maximum"), **options
        )
    return JsonField(kind=kind if isinstance(kind, str) else None, **options)
