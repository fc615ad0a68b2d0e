"""The paging and sorting fields of the Agent Server's search requests."""

from __future__ import annotations

from rest_framework import serializers

from runtime.api import fields


class Paging(serializers.Serializer):
    limit = fields.integer(required=False, min_value=1, max_value=1000, default=10)
    offset = fields.integer(required=False, min_value=0, default=0)


def sort_by(choices: tuple[str, ...], default: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices, required=False, default=default)


def sort_order() -> serializers.ChoiceField:
    return serializers.ChoiceField(("asc", "desc"), required=False, default="desc")


def select(choices: tuple[str, ...]) -> serializers.ListField:
    return serializers.ListField(child=serializers.ChoiceField(choices), required=False)
