"""The /v1 JSON parser: DRF's, bounded in depth, without NUL characters or
numbers the databases cannot store."""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import get_encoding  # type: ignore[attr-defined]
from rest_framework.utils.json import strict_constant

from runtime.errors import InvalidArgument

# Deeper than any run input needs; far below where json and the ORM recurse.
MAX_JSON_DEPTH = 64


class JSONParser(parsers.JSONParser):
    """Refuses (400) bodies nested past ``MAX_JSON_DEPTH``, strings holding NUL and
    numbers that overflow a float (``1e400``): PostgreSQL cannot store either (SQLite
    could; both databases answer alike)."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        encoding = get_encoding(parser_context or {})  # a text codec, else a 400
        try:
            # DRF's, without a decoding reader: the body is read whole anyway
            text = stream.read().decode(encoding)
            parse_constant = strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant)
        except RecursionError:  # nested deeper than the interpreter's own limit
            raise too_deep() from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        json_check(data)
        return data


def too_deep() -> InvalidArgument:
    return InvalidArgument(f"JSON body is nested deeper than {MAX_JSON_DEPTH} levels")


def json_check(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raises ``InvalidArgument`` for nesting past ``max_depth`` or a NUL in any key
    or string; walks with a stack, so depth costs no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InvalidArgument("JSON body must not contain NUL (\\u0000)")
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidArgument("JSON body numbers must be finite")
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise too_deep()
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)
