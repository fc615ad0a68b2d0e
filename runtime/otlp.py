"""The OTLP/HTTP span exporter, with a cheaper encoding of the batch.

The SDK's exporter turns each batch into protobuf messages span by span: about
80 Python calls a span (a message per span, key-value and value, a property
read and a type check per field), several times the cost of making the span.
:func:`encode_spans` writes the same ``ExportTraceServiceRequest`` in protobuf's
wire format directly, span by span, for the spans it can write plainly
(attributes of ``str``, ``bool``, ``int``, ``float`` or ``bytes``, no event, no
link: every superstep and node span that succeeds); any other span is encoded
by the SDK's own encoder and its bytes embedded as they are. Decoded, the
request equals the SDK's (``tests/runtime/test_otlp.py`` compares them).

:class:`OTLPSpanExporter` is the SDK's exporter with its ``export`` run with
this encoder in place of the SDK's ``encode_spans``: sending, retries, size
limit, compression and the exporter's own metrics stay the SDK's.
"""

from __future__ import annotations

import struct
import types
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
    _encode_span,
)
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from runtime import spans

_BYTE = tuple(bytes((i,)) for i in range(128))
_INT64 = 1 << 63
_TIMES = struct.Struct("<BQBQ")  # start and end: fixed64 fields 7 and 8
_DOUBLE = struct.Struct("<Bd")  # AnyValue.double_value: fixed64 field 4
# Span.kind (field 6): the protobuf enum is the SDK's value plus one
_KINDS = {kind: bytes((0x30, kind.value + 1)) for kind in SpanKind}
_FLAGS = struct.pack("<BBI", 0x85, 0x01, 0x100)  # field 16: HAS_IS_REMOTE
_REMOTE_FLAGS = struct.pack("<BBI", 0x85, 0x01, 0x300)  # ... | IS_REMOTE
_UNSET = b"\x7a\x00"  # field 15, an empty Status
_TAIL, _REMOTE_TAIL = _UNSET + _FLAGS, _UNSET + _REMOTE_FLAGS
_UNSET_STATUS = spans.UNSET  # the status of a span of ours nothing set
_STORED = (ReadableSpan, spans.Span)  # their fields as ReadableSpan stores them
_BOOLS = {True: b"\x12\x02\x10\x01", False: b"\x12\x02\x10\x00"}  # value: AnyValue
_KEYS: dict[str, tuple[bytes, int]] = {}  # see _key
_NAMES: dict[str, bytes] = {}  # see _name
_IDS = struct.Struct(">BBQQBBQ")  # trace id (field 1, 16 bytes), span id (2)
_PARENT = struct.Struct(">BBQ")  # parent span id (field 4)
_CHILD_IDS = struct.Struct(">BBQQBBQBBQ")  # trace id, span id, parent span id
_HEADS: dict[str, bytes] = {}  # see _head
_STRS: dict[str, tuple[bytes, ...]] = {}  # see _strs
_INTS: dict[str, tuple[bytes, ...]] = {}  # see _ints
_INTERNAL = SpanKind.INTERNAL  # an enum member read once, not per span
_LOW = (1 << 64) - 1
_MAX_KEYS = 4096


def _varint(n: int) -> bytes:
    if n < 128:
        return _BYTE[n]
    out = bytearray()
    while n > 127:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its tag, the length, the bytes."""
    n = len(data)
    if n < 128:
        return tag + _BYTE[n] + data
    if n < 16384:  # a span, mostly
        return tag + bytes((n & 0x7F | 0x80, n >> 7)) + data
    return tag + _varint(n) + data


def _key(key: str) -> tuple[bytes, int]:
    """``KeyValue.key`` (field 1) and its length in bytes, kept for the next
    span (keys are few: attribute names)."""
    found = _field(b"\x0a", key.encode()) if key else b""  # "" is not written
    if len(_KEYS) < _MAX_KEYS:
        _KEYS[key] = found, len(found)
    return found, len(found)


def _pair(key: str, value: Any) -> bytes | None:
    """``Span.attributes`` (field 9): one ``KeyValue``, its value an
    ``AnyValue`` with one member set (written even when it is the default: a
    oneof's member is present); ``None`` for a value the SDK's encoder is left
    to write."""
    try:
        tagged, size = _KEYS[key]
    except KeyError:
        tagged, size = _key(key)
    kind = type(value)
    if kind is str:
        data = value.encode()
        n = len(data)
        if size + n < 124:  # every length one byte
            body = b"\x12" + _BYTE[n + 2] + b"\x0a" + _BYTE[n] + data
            return b"\x4a" + _BYTE[size + n + 4] + tagged + body
        encoded = _field(b"\x12", _field(b"\x0a", data))
    elif kind is bool:
        encoded = _BOOLS[value]
    elif kind is int:
        if 0 <= value < 128:
            encoded = b"\x12\x02\x18" + _BYTE[value]
        elif -_INT64 <= value < _INT64:  # negative: ten bytes, two's complement
            number = _varint(value % (1 << 64))
            encoded = b"\x12" + _BYTE[len(number) + 1] + b"\x18" + number
        else:
            return None
    elif kind is float:
        encoded = b"\x12\x09" + _DOUBLE.pack(0x21, value)
    elif kind is bytes:
        encoded = _field(b"\x12", _field(b"\x3a", value))
    else:
        return None
    return _field(b"\x4a", tagged + encoded)


def _plain_span(span: ReadableSpan) -> bytes | None:
    """``ScopeSpans.spans`` (field 2): ``span`` as the SDK encodes it, or
    ``None`` for a span this module does not write (see the module's
    docstring). Its fields are read as ``ReadableSpan`` stores them (its
    properties copy the attributes, events and links), and written in field
    order with as few pieces as can be: the ids (and parent) in one pack, the
    name and kind kept for the next span of that name, the times in one pack,
    each attribute's ``KeyValue`` from its key's kept encoding, status and
    flags together."""
    if type(span) not in _STORED or span._events or span._links:
        return None
    attributes = span._attributes
    if type(attributes) is not dict:  # None, or a BoundedAttributes
        if attributes is None:
            attributes = {}
        elif getattr(attributes, "dropped", 1):
            return None
    context, parent = span._context, span._parent
    start, end = span._start_time, span._end_time
    if context is None or not (start and end):  # unended, or timeless: the SDK's
        return None
    # a SpanContext is a tuple: its fields unpacked without a property call each
    trace_id, span_id, _remote, _flags, trace_state, _valid = context
    high, low = trace_id >> 64, trace_id & _LOW
    if trace_state is not DEFAULT_TRACE_STATE and trace_state:
        # the SDK writes it as key=value,...; "" is not written
        state = ",".join([f"{k}={v}" for k, v in trace_state.items()])
        parts = [_IDS.pack(0x0A, 0x10, high, low, 0x12, 0x08, span_id)]
        parts.append(_field(b"\x1a", state.encode()))
        if parent:
            parts.append(_PARENT.pack(0x22, 0x08, parent[1]))
    elif parent:
        parts = [
            _CHILD_IDS.pack(
                0x0A, 0x10, high, low, 0x12, 0x08, span_id, 0x22, 0x08, parent[1]
            )
        ]
    else:
        parts = [_IDS.pack(0x0A, 0x10, high, low, 0x12, 0x08, span_id)]
    name, kind = span._name, span._kind
    if kind is _INTERNAL:
        head = _HEADS.get(name) or _head(name)
    else:
        head = (_NAMES.get(name) or _name(name)) + _KINDS[kind]
    parts.append(head)
    parts.append(_TIMES.pack(0x39, start, 0x41, end))
    value: Any
    for key, value in attributes.items():
        of = type(value)
        if of is str:  # most: the key's kept start and the value's bytes
            data = value.encode()
            try:
                parts.append((_STRS.get(key) or _strs(key))[len(data)] + data)
                continue
            except IndexError:  # a length of more than one byte
                pass
        elif of is int and 0 <= value < 128:  # a step number, mostly
            parts.append((_INTS.get(key) or _ints(key))[value])
            continue
        pair = _pair(key, value)
        if pair is None:
            return None
        parts.append(pair)
    status = span._status
    remote = parent[2] if parent else False
    if status is _UNSET_STATUS:
        parts.append(_REMOTE_TAIL if remote else _TAIL)
    else:
        if status is not None:
            parts.append(_status(status.status_code, status.description))
        parts.append(_REMOTE_FLAGS if remote else _FLAGS)
    data = b"".join(parts)
    n = len(data)
    if n < 128:
        return b"\x12" + _BYTE[n] + data
    if n < 16384:  # a span, mostly
        return b"\x12" + bytes((n & 0x7F | 0x80, n >> 7)) + data
    return b"\x12" + _varint(n) + data


def _strs(key: str) -> tuple[bytes, ...]:
    """The start of ``key``'s ``KeyValue`` (``Span.attributes``, field 9) for
    a ``str`` value of each length ``n`` whose lengths all fit one byte: the
    value's bytes after it make the attribute. Kept for the next span."""
    tagged, size = _KEYS.get(key) or _key(key)
    found = tuple(
        b"\x4a"
        + _BYTE[size + n + 4]
        + tagged
        + b"\x12"
        + _BYTE[n + 2]
        + b"\x0a"
        + _BYTE[n]
        for n in range(max(0, 124 - size))
    )
    if len(_STRS) < _MAX_KEYS:
        _STRS[key] = found
    return found


def _ints(key: str) -> tuple[bytes, ...]:
    """``key``'s ``KeyValue`` with each ``int`` value from 0 to 127, kept for
    the next span."""
    found = tuple(_pair_of(key, n) for n in range(128))
    if len(_INTS) < _MAX_KEYS:
        _INTS[key] = found
    return found


def _pair_of(key: str, value: int) -> bytes:
    pair = _pair(key, value)
    assert pair is not None  # a small int is always written
    return pair


def _head(name: str) -> bytes:
    """``Span.name`` (field 5) and ``Span.kind`` (field 6) of an internal
    span, kept for the next span of that name."""
    found = (_NAMES.get(name) or _name(name)) + b"\x30\x01"
    if len(_HEADS) < _MAX_KEYS:
        _HEADS[name] = found
    return found


def _name(name: str) -> bytes:
    """``Span.name`` (field 5), kept for the next span (names are few:
    ``superstep 3``, ``node a``, ...)."""
    found = _field(b"\x2a", name.encode()) if name else b""  # "" is not written
    if len(_NAMES) < _MAX_KEYS:
        _NAMES[name] = found
    return found


def _status(code: StatusCode, description: str | None) -> bytes:
    """``Span.status`` (field 15): its message (field 2), its code (field 3)."""
    if code is StatusCode.UNSET and not description:
        return _UNSET
    body = _field(b"\x12", description.encode()) if description else b""
    if code is not StatusCode.UNSET:
        body += b"\x18" + _BYTE[code.value]
    return _field(b"\x7a", body)


class _Request:
    """What ``encode_spans`` returns, as the exporter uses it: its bytes."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializePartialToString(self) -> bytes:  # protobuf's name
        return self.data

    SerializeToString = SerializePartialToString


def encode_spans(batch: Sequence[ReadableSpan]) -> _Request:
    """The ``ExportTraceServiceRequest`` of ``batch``, as the SDK's
    ``encode_spans`` makes it: spans grouped by resource, then by scope, in
    the order first seen."""
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    last_resource: Any = None
    last_scope: Any = None
    last: list[bytes] = []
    for span in batch:
        if type(span) in _STORED:  # without the properties' calls
            resource, scope = span._resource, span._instrumentation_scope
        else:
            resource, scope = span.resource, span.instrumentation_scope
        if resource is not last_resource or scope is not last_scope or not groups:
            last_resource, last_scope = resource, scope
            last = groups.setdefault(resource, {}).setdefault(scope, [])
        try:
            encoded = _plain_span(span)
        except Exception:  # the SDK's encoder says what is wrong
            encoded = None
        if encoded is None:
            encoded = _field(b"\x12", _encode_span(span).SerializePartialToString())
        last.append(encoded)
    request = []
    for resource, scopes in groups.items():
        parts = [_field(b"\x0a", _encode_resource(resource).SerializePartialToString())]
        for scope, encoded_spans in scopes.items():
            body = [_field(b"\x0a", _scope(scope)), *encoded_spans]
            if scope is not None and scope.schema_url:
                body.append(_field(b"\x1a", scope.schema_url.encode()))
            parts.append(_field(b"\x12", b"".join(body)))
        if resource.schema_url:
            parts.append(_field(b"\x1a", resource.schema_url.encode()))
        request.append(_field(b"\x0a", b"".join(parts)))
    return _Request(b"".join(request))


def _scope(scope: Any) -> bytes:
    return _encode_instrumentation_scope(scope).SerializePartialToString()


def _with_encoder(export: Any) -> Any:
    """The SDK exporter's ``export``, calling this module's ``encode_spans``
    where it calls the SDK's."""
    if "encode_spans" not in export.__code__.co_names:  # an SDK that encodes elsewhere
        raise RuntimeError("OTLPSpanExporter.export does not call encode_spans")
    namespace = {**export.__globals__, "encode_spans": encode_spans}
    code, name = export.__code__, export.__name__
    return types.FunctionType(
        code, namespace, name, export.__defaults__, export.__closure__
    )


class OTLPSpanExporter(trace_exporter.OTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter, encoding with :func:`encode_spans`."""

    export = _with_encoder(trace_exporter.OTLPSpanExporter.export)
