"""agents/tools: @tool schemas, validation, and the built-in tools."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

import pytest

from agents.errors import ToolError
from agents.tools import (
    CalculatorTool,
    CurrentTimeTool,
    HttpFetchTool,
    WriteTodosTool,
    calculate,
    filesystem_tools,
    tool,
)
from agents.tools._schema import parse_google_docstring, validate_json_schema
from agents.tools.base import ToolRuntime
from graphs.types import Command
from tests.agents.conftest import Reply


class Address(TypedDict):
    city: str
    zip: str | None


@dataclass
class Point:
    x: float
    y: float = 0.0


def test_tool_derives_the_schema_from_hints_and_the_docstring():
    @tool
    def book(
        guest: str,
        nights: int,
        room: Literal["single", "double"] = "single",
        tags: list[str] | None = None,
        address: Address | None = None,
        where: Point | None = None,
        note: Annotated[str, "free text"] = "",
        runtime: ToolRuntime = None,
    ) -> str:
        """Book a room.

        More detail that is still description.

        Args:
            guest: Guest name.
            nights: How many nights; must be
                at least one.
            room: Room type.
        """
        return guest

    spec = book.spec
    assert spec["name"] == "book"
    assert (
        spec["description"] == "Book a room.\n\nMore detail that is still description."
    )
    props = spec["parameters"]["properties"]
    assert props["guest"] == {"type": "string", "description": "Guest name."}
    assert props["nights"]["description"] == "How many nights; must be at least one."
    assert props["room"] == {
        "enum": ["single", "double"],
        "description": "Room type.",
        "default": "single",
    }
    assert props["tags"]["anyOf"][0] == {"type": "array", "items": {"type": "string"}}
    assert props["address"]["anyOf"][0]["required"] == ["city", "zip"]
    assert props["where"]["anyOf"][0]["required"] == ["x"]
    assert props["note"]["description"] == "free text"
    assert "runtime" not in props
    assert spec["parameters"]["required"] == ["guest", "nights"]


def test_tool_validates_arguments_before_calling():
    @tool("adder", description="Adds.")
    def add(a: int, b: int = 1) -> int:
        return a + b

    assert add.name == "adder"
    assert add.invoke({"a": 2}) == 3
    with pytest.raises(ToolError, match=r"missing required property 'a'"):
        add.invoke({"b": 2})
    with pytest.raises(ToolError, match=r"\$.a: expected integer, got string"):
        add.invoke({"a": "2"})


def test_async_tools_run_from_sync_code():
    @tool
    async def slow(x: int) -> int:
        """Double x."""
        return x * 2

    assert slow.invoke({"x": 4}) == 8

    async def from_async_code() -> int:
        # A sync call inside a running loop runs the coroutine on a loop of its own.
        return slow.invoke({"x": 5})

    assert asyncio.run(from_async_code()) == 10


def test_google_docstring_parsing_stops_at_sections():
    desc, args = parse_google_docstring(
        """Summary.

        Args:
            a (int): First.
            b: Second.

        Returns:
            Something.
        """
    )
    assert desc == "Summary."
    assert args == {"a": "First.", "b": "Second."}


@pytest.mark.parametrize(
    ("value", "schema", "error"),
    [
        (5, {"type": "integer", "minimum": 6}, "minimum"),
        ("ab", {"type": "string", "pattern": "^a+$"}, "does not match"),
        ([1, 2, 3], {"type": "array", "maxItems": 2}, "at most 2"),
        ({"a": 1}, {"type": "object", "additionalProperties": False}, "unexpected"),
        ("x", {"enum": ["y"]}, "not one of"),
        (None, {"type": ["string", "null"]}, None),
        (1, {"anyOf": [{"type": "string"}, {"type": "boolean"}]}, "anyOf"),
        (
            {"p": {"q": "1"}},
            {
                "type": "object",
                "properties": {"p": {"$ref": "#/$defs/P"}},
                "$defs": {
                    "P": {"type": "object", "properties": {"q": {"type": "integer"}}}
                },
            },
            "$.p.q: expected integer",
        ),
        (True, {"type": "integer"}, "expected integer"),
    ],
)
def test_json_schema_validation(value, schema, error):
    errors = validate_json_schema(value, schema)
    if error is None:
        assert errors == []
    else:
        assert any(error in e for e in errors), errors


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 ** 10", 1024),
        ("2^3", 8),
        ("-7 // 2", -4),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 2)", 3.14),
        ("max(1, 5, 3)", 5),
    ],
)
def test_calculator_computes(expression, value):
    assert calculate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "(1).__class__",
        "x + 1",
        "9 ** 999999",
        "factorial(100000)",
        "1 / 0",
        "[1, 2]",
        "lambda: 1",
    ],
)
def test_calculator_refuses_anything_but_arithmetic(expression):
    with pytest.raises(ToolError):
        calculate(expression)


def test_calculator_tool_formats_integers():
    assert CalculatorTool().invoke({"expression": "10 / 2"}) == "5"


def test_current_time_uses_the_zone_and_the_clock():
    clock = lambda: dt.datetime(2025, 1, 2, 12, 0, tzinfo=dt.UTC)  # noqa: E731
    tool_ = CurrentTimeTool(clock)
    assert tool_.invoke({}) == "2025-01-02T12:00:00+00:00"
    assert tool_.invoke({"timezone": "Europe/Paris"}) == "2025-01-02T13:00:00+01:00"
    with pytest.raises(ToolError, match="Unknown time zone"):
        tool_.invoke({"timezone": "Mars/Base"})


def test_write_todos_updates_state_through_a_command():
    result = WriteTodosTool().invoke(
        {
            "todos": [
                {"title": "plan", "status": "done"},
                {"content": "build", "status": "in_progress"},
                {"status": "weird"},
            ]
        },
        ToolRuntime(tool_call_id="c1"),
    )
    assert isinstance(result, Command)
    assert result.update["todos"] == [
        {"id": "todo_0", "title": "plan", "status": "completed"},
        {"id": "todo_1", "title": "build", "status": "in_progress"},
        {"id": "todo_2", "title": "Item 3", "status": "pending"},
    ]
    (message,) = result.update["messages"]
    assert message.tool_call_id == "c1"
    assert "3 items" in message.text


@pytest.fixture
def fs(tmp_path):
    root = tmp_path / "ws"
    tools = {t.name: t for t in filesystem_tools(root)}
    (tmp_path / "secret.txt").write_text("top secret")
    return root, tools


def test_filesystem_tools_write_read_edit_list_glob_grep(fs):
    root, t = fs
    assert (
        t["write_file"].invoke({"path": "/notes/a.md", "content": "hello\nworld\n"})
        == "Wrote 12 bytes to /notes/a.md"
    )
    t["write_file"].invoke({"path": "b.txt", "content": "world peace"})
    assert (
        t["read_file"].invoke({"path": "notes/a.md"}) == "     1\thello\n     2\tworld"
    )
    assert t["read_file"].invoke({"path": "notes/a.md", "offset": 2, "limit": 1}) == (
        "     2\tworld"
    )
    assert t["ls"].invoke({}) == "b.txt\nnotes/"
    assert t["glob"].invoke({"pattern": "**/*.md"}) == "/notes/a.md"
    assert t["grep"].invoke({"pattern": "wor"}) == (
        "/b.txt:1: world peace\n/notes/a.md:2: world"
    )
    assert (
        t["grep"].invoke({"pattern": "wor", "glob": "*.md"}) == "/notes/a.md:2: world"
    )
    t["edit_file"].invoke(
        {"path": "b.txt", "old_string": "peace", "new_string": "tour"}
    )
    assert (root / "b.txt").read_text() == "world tour"
    t["write_file"].invoke({"path": "c.txt", "content": "x x"})
    with pytest.raises(ToolError, match="occurs 2 times"):
        t["edit_file"].invoke({"path": "c.txt", "old_string": "x", "new_string": "y"})
    t["edit_file"].invoke(
        {
            "path": "c.txt",
            "replacements": [{"old_string": "x", "new_string": "y"}],
            "replace_all": True,
        }
    )
    assert (root / "c.txt").read_text() == "y y"


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "notes/../../secret.txt", "/../secret.txt", "..", "a\x00b"],
)
def test_filesystem_tools_refuse_paths_outside_the_root(fs, path):
    _, t = fs
    with pytest.raises(ToolError):
        t["read_file"].invoke({"path": path})
    with pytest.raises(ToolError):
        t["write_file"].invoke({"path": path, "content": "pwned"})


def test_filesystem_tools_refuse_symlinks_that_leave_the_root(fs, tmp_path):
    root, t = fs
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    os.symlink(tmp_path, root / "escape")
    with pytest.raises(ToolError, match="outside"):
        t["read_file"].invoke({"path": "link.txt"})
    with pytest.raises(ToolError, match="outside"):
        t["write_file"].invoke({"path": "escape/new.txt", "content": "x"})
    assert not (tmp_path / "new.txt").exists()
    assert "link.txt" not in t["ls"].invoke({})
    assert "secret" not in t["grep"].invoke({"pattern": "secret"})
    assert t["glob"].invoke({"pattern": "**/*.txt"}) == "No files match."


def test_read_only_filesystem_has_no_write_tools(tmp_path):
    names = [t.name for t in filesystem_tools(tmp_path, read_only=True)]
    assert names == ["ls", "read_file", "glob", "grep"]


def test_http_fetch_gets_allowed_hosts_only(wire):
    wire.reply(
        Reply(status=302, text="", headers={"location": "/final"}),
        Reply(text="hello from the allowed host", content_type="text/plain"),
    )
    fetch = HttpFetchTool([wire.url.removeprefix("http://")], timeout=2)
    assert fetch.invoke({"url": wire.url + "/start"}) == (
        "HTTP 200\nhello from the allowed host"
    )
    assert [r.path for r in wire.requests] == ["/start", "/final"]
    with pytest.raises(ToolError, match="allowlist"):
        HttpFetchTool(["example.com"]).invoke({"url": wire.url})
    with pytest.raises(ToolError, match="http"):
        fetch.invoke({"url": "file:///etc/passwd"})


def test_http_fetch_checks_every_redirect_hop(wire):
    wire.reply(Reply(status=302, text="", headers={"location": "http://evil.example/"}))
    with pytest.raises(ToolError, match="evil.example"):
        HttpFetchTool([wire.url.removeprefix("http://")]).invoke({"url": wire.url})


def test_http_fetch_wildcards():
    from agents.tools.http_fetch import url_allowed

    assert url_allowed("https://api.example.com/", ["*.example.com"])
    assert not url_allowed("https://example.com.evil.io/", ["*.example.com"])
    assert not url_allowed("https://notexample.com/", ["*.example.com"])
