"""JSON serialisation of state values and checkpoints (never pickle).

Encoding is plain JSON plus *tagged objects* for what JSON cannot express:
``{"__t": "<tag>", "v": <payload>}``. Built-in tags: ``tuple``, ``set``,
``frozenset``, ``bytes`` (base64), ``datetime``, ``date``, ``time``, ``timedelta``,
``uuid``, ``decimal``, ``float`` (NaN/Infinity), ``dict`` (a dict whose keys are not
all strings, or that has a ``"__t"`` key: payload is a list of ``[key, value]``),
``send``, ``interrupt``, ``overwrite``, ``command``, and ``lc``: a LangChain message
or document in LangChain's own JSON form (``{"lc": 1, "type": "constructor",
...}``), decoded only for the allowlisted classes of
:data:`graphs._langchain.ALLOWED`. Other classes are added with :func:`register`.

Decoding never guesses: an unknown tag or a malformed payload raises
:class:`~graphs.errors.CheckpointDecodeError`; encoding an unsupported value raises
:class:`~graphs.errors.SerializationError` naming its type.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import json
import math
import uuid
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

from graphs import _langchain
from graphs.errors import CheckpointDecodeError, SerializationError
from graphs.policy import InterruptPolicy
from graphs.types import Command, Interrupt, Overwrite, Send

__all__ = [
    "TAG",
    "dumps",
    "dumps_text",
    "dumps_typed",
    "from_jsonable",
    "json_chunks",
    "loads",
    "loads_typed",
    "register",
    "to_jsonable",
]

TAG = "__t"
"""Key marking a tagged object."""

_ToJson = Callable[[Any], Any]
_FromJson = Callable[[Any], Any]

_ENCODERS: dict[type, tuple[str, _ToJson]] = {}
_DECODERS: dict[str, _FromJson] = {}


def register(
    cls: type,
    tag: str,
    *,
    to_json: _ToJson | None = None,
    from_json: _FromJson | None = None,
) -> None:
    """Register a custom type so it can live in state and checkpoints.

    Args:
        cls: The class. Instances of exactly this class are encoded with ``tag``.
        tag: Stable name stored in checkpoints; never reuse it for another class.
        to_json: Returns a JSON-able payload; default ``obj.to_json()`` (or the
            dataclass fields when the class has no ``to_json``).
        from_json: Rebuilds an instance from the payload; default
            ``cls.from_json(payload)`` (or ``cls(**payload)`` for dataclasses).

    Raises:
        ValueError: If ``tag`` is already used by a different class.
    """
    previous = _DECODERS.get(tag)
    owner = next((c for c, (t, _) in _ENCODERS.items() if t == tag), None)
    if previous is not None and owner is not None and owner is not cls:
        raise ValueError(f"serde tag {tag!r} is already registered for {owner!r}")
    if to_json is None:
        if hasattr(cls, "to_json"):
            to_json = cls.to_json
        elif dataclasses.is_dataclass(cls):
            to_json = _dataclass_fields
        else:
            raise ValueError(f"{cls.__name__} has no to_json(); pass to_json=")
    if from_json is None:
        if hasattr(cls, "from_json"):
            from_json = cls.from_json
        elif dataclasses.is_dataclass(cls):
            from_json = lambda payload: cls(**payload)  # noqa: E731
        else:
            raise ValueError(f"{cls.__name__} has no from_json(); pass from_json=")
    _ENCODERS[cls] = (tag, to_json)
    _DECODERS[tag] = from_json


def _dataclass_fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _tagged(tag: str, payload: Any) -> dict[str, Any]:
    return {TAG: tag, "v": payload}


def _enc_float(v: float) -> Any:
    if math.isfinite(v):
        return v
    return _tagged("float", "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def _enc_dict(v: dict[Any, Any]) -> Any:
    for k in v:
        if type(k) is not str or k == TAG:
            return _tagged(
                "dict", [[to_jsonable(k), to_jsonable(x)] for k, x in v.items()]
            )
    return {k: to_jsonable(x) for k, x in v.items()}


_BUILTIN: dict[type, Callable[[Any], Any]] = {
    float: _enc_float,
    dict: _enc_dict,
    list: lambda v: [to_jsonable(x) for x in v],
    tuple: lambda v: _tagged("tuple", [to_jsonable(x) for x in v]),
    set: lambda v: _tagged("set", [to_jsonable(x) for x in _sorted(v)]),
    frozenset: lambda v: _tagged("frozenset", [to_jsonable(x) for x in _sorted(v)]),
    bytes: lambda v: _tagged("bytes", base64.b64encode(v).decode("ascii")),
    dt.datetime: lambda v: _tagged("datetime", v.isoformat()),
    dt.date: lambda v: _tagged("date", v.isoformat()),
    dt.time: lambda v: _tagged("time", v.isoformat()),
    dt.timedelta: lambda v: _tagged("timedelta", [v.days, v.seconds, v.microseconds]),
    uuid.UUID: lambda v: _tagged("uuid", str(v)),
    decimal.Decimal: lambda v: _tagged("decimal", str(v)),
    Send: lambda v: _tagged("send", [v.node, to_jsonable(v.arg)]),
    Interrupt: lambda v: _tagged("interrupt", _interrupt_json(v)),
    Overwrite: lambda v: _tagged("overwrite", to_jsonable(v.value)),
    Command: lambda v: _tagged(
        "command",
        {
            "graph": v.graph,
            "update": to_jsonable(v.update),
            "resume": to_jsonable(v.resume),
            "goto": to_jsonable(v.goto),
        },
    ),
}


def _interrupt_json(interrupt: Interrupt) -> dict[str, Any]:
    out = {"value": to_jsonable(interrupt.value), "id": interrupt.id}
    if interrupt.policy is not None:  # absent, not null: older checkpoints read alike
        out["policy"] = interrupt.policy.to_json()
    if interrupt.response_schema is not None:  # absent likewise
        out["response_schema"] = to_jsonable(interrupt.response_schema)
    return out


def _policy(data: Any) -> InterruptPolicy | None:
    return None if data is None else InterruptPolicy.from_json(data)


def _enc_langchain(value: Any) -> Any:
    return _tagged("lc", _langchain.encode(value, to_jsonable))


_LANGCHAIN_TYPES: set[type] = set()
"""LangChain classes :func:`to_jsonable` has encoded: :func:`dumps` splices their
cached JSON text (see :func:`_message_json`)."""


def _sorted(values: Any) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def to_jsonable(value: Any) -> Any:
    """Encode ``value`` into a JSON-compatible tree (tagged objects included).

    Raises:
        SerializationError: If the value (or something inside it) is unsupported.
    """
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    enc = _BUILTIN.get(t)
    if enc is not None:
        return enc(value)
    custom = _ENCODERS.get(t)
    if custom is not None:
        return _tagged(custom[0], to_jsonable(custom[1](value)))
    # str/int/float subclasses (enums) are stored as their plain value.
    for base in (str, int, float):
        if isinstance(value, base):
            return to_jsonable(base(value))
    lc = _langchain.encode(value, to_jsonable)
    if lc is not None:
        _BUILTIN[t] = _enc_langchain  # later values of this class go straight there
        _LANGCHAIN_TYPES.add(t)
        return _tagged("lc", lc)
    raise SerializationError(
        f"cannot serialise a value of type {t.__module__}.{t.__qualname__}; "
        "register it with graphs.serde.register()"
    )


_BUILTIN_DECODERS: dict[str, _FromJson] = {
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "bytes": lambda v: base64.b64decode(v.encode("ascii"), validate=True),
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "uuid": uuid.UUID,
    "decimal": decimal.Decimal,
    "float": lambda v: {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[v],
    "dict": lambda v: {_hashable(k): x for k, x in v},
    "send": lambda v: Send(v[0], v[1]),
    "interrupt": lambda v: Interrupt(
        value=v["value"],
        id=v["id"],
        response_schema=v.get("response_schema"),
        policy=_policy(v.get("policy")),
    ),
    "overwrite": Overwrite,
    "command": lambda v: Command(
        graph=v["graph"], update=v["update"], resume=v["resume"], goto=v["goto"]
    ),
    "lc": _langchain.decode,
}


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def _object_hook(obj: dict[str, Any]) -> Any:
    tag = obj.get(TAG)
    if tag is None:
        return obj
    if len(obj) != 2 or "v" not in obj or type(tag) is not str:
        raise CheckpointDecodeError(f"malformed tagged object with keys {sorted(obj)}")
    decoder = _BUILTIN_DECODERS.get(tag) or _DECODERS.get(tag)
    if decoder is None:
        raise CheckpointDecodeError(f"unknown serde tag {tag!r}")
    try:
        return decoder(obj["v"])
    except CheckpointDecodeError:
        raise
    except Exception as exc:
        raise CheckpointDecodeError(f"cannot decode {tag!r} payload: {exc}") from exc


def from_jsonable(tree: Any) -> Any:
    """Inverse of :func:`to_jsonable` for an already-parsed JSON tree."""
    if isinstance(tree, list):
        return [from_jsonable(x) for x in tree]
    if isinstance(tree, dict):
        return _object_hook({k: from_jsonable(v) for k, v in tree.items()})
    return tree


# to_jsonable() builds a fresh tree (a cycle in the value already fails there), so
# the encoder's own cycle check is only cost
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)
_DECODER = json.JSONDecoder(object_hook=_object_hook)


def dumps(value: Any) -> bytes:
    """Encode ``value`` as UTF-8 JSON bytes.

    Raises:
        SerializationError: If the value cannot be encoded.
    """
    return dumps_text(value).encode("utf-8")


def dumps_text(value: Any) -> str:
    """:func:`dumps` as text: the JSON of :func:`to_jsonable`'s tree.

    LangChain messages are the one value of a state that is both common and
    costly to encode (pydantic objects), and the same message is stored again and
    again (the input, the channel, a full copy at the end of a delta chain, other
    threads), so their JSON text is cached per message object and spliced in. The
    result is the same text, byte for byte.

    Raises:
        SerializationError: If the value cannot be encoded.
    """
    if _LANGCHAIN_TYPES:
        tree = _spliced(value)
        return "".join(tree) if type(tree) is _Pieces else _encode(tree)
    return _encode(to_jsonable(value))


def _make_encoder() -> Callable[[Any], list[str]]:
    """The C encoder :data:`_ENCODER` builds on every call, built once."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the pure-Python encoder
        return lambda tree: [_ENCODER.encode(tree)]
    encoder = make(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
        False, False, False,
    )  # fmt: skip
    return lambda tree: encoder(tree, 0)


_chunks = _make_encoder()


def json_chunks(tree: Any) -> list[str]:
    """Plain JSON (no tags) in chunks, as ``json.dumps`` with compact separators.

    For values known to be JSON already (checkpoint headers): encoding them this
    way skips building an encoder per call.

    Raises:
        TypeError: A value JSON cannot hold.
        ValueError: A NaN or infinite float.
    """
    return _chunks(tree)


def _encode(tree: Any) -> str:
    return "".join(_chunks(tree))


class _Pieces(list[str]):
    """JSON text, in pieces, standing for a subtree of :func:`to_jsonable`'s tree."""

    __slots__ = ()


_CONTAINERS = frozenset((list, dict, tuple))


def _spliced(value: Any) -> Any:
    """:func:`to_jsonable`'s tree, or its JSON text (:class:`_Pieces`) where
    LangChain messages are inside: a container holding one is written as text
    (the messages' cached text, its other items encoded on their own)."""
    t = type(value)
    if t in _LANGCHAIN_TYPES:
        return _Pieces(_messages_text((value,)))
    if t is list or t is tuple:
        items = value
    elif t is dict:
        items = value.values()
    else:
        return to_jsonable(value)
    kinds = set(map(type, items))
    if kinds.isdisjoint(_LANGCHAIN_TYPES) and kinds.isdisjoint(_CONTAINERS):
        return to_jsonable(value)
    if t is list and kinds <= _LANGCHAIN_TYPES:  # a list of messages
        return _Pieces(("[", ",".join(_messages_text(value)), "]"))
    if t is dict:
        for k in value:
            if type(k) is not str or k == TAG:
                return to_jsonable(value)  # a tagged dict: no splicing below it
        fields = dict(zip(value, map(_spliced, value.values())))  # noqa: B905
        if _Pieces not in set(map(type, fields.values())):
            return fields
        pieces = _Pieces(["{"])
        for k, x in fields.items():
            if len(pieces) > 1:
                pieces.append(",")
            pieces.append(_encode_key(k))
            pieces.append(":")
            pieces.extend(x if type(x) is _Pieces else _chunks(x))
        pieces.append("}")
        return pieces
    found = list(map(_spliced, value))
    if _Pieces not in set(map(type, found)):
        return found if t is list else _tagged("tuple", found)
    pieces = _Pieces(["[" if t is list else f'{{"{TAG}":"tuple","v":['])
    for i, x in enumerate(found):
        if i:
            pieces.append(",")
        pieces.extend(x if type(x) is _Pieces else _chunks(x))
    pieces.append("]" if t is list else "]}")
    return pieces


_encode_key = json.encoder.encode_basestring  # what the encoder does to str keys

_cached: dict[int, tuple[Any, Any, str]] = {}
_CACHE_LIMIT = 100_000


def _messages_text(messages: Any) -> list[str]:
    """The JSON text of each LangChain message, cached while the message lives.

    An entry holds a snapshot of the message's fields and is used only while they
    are equal to it (exact types for numbers), so a message changed in place is
    encoded again; one holding values the snapshot cannot compare exactly is
    encoded every time.
    """
    out = []
    cached = _cached
    for message in messages:
        entry = cached.get(id(message))
        if entry is not None and entry[0]() is message:
            try:
                same = message.__dict__ == entry[1]
            except Exception:  # a field value whose == fails: encode it again
                same = False
            if same:
                out.append(entry[2])
                continue
        out.append(_message_text(message))
    return out


def _message_text(message: Any) -> str:
    text = _encode(_enc_langchain(message))
    snapshot = _langchain.snapshot(message)
    if snapshot is not None:
        if len(_cached) >= _CACHE_LIMIT:
            _cached.clear()
        key = id(message)
        _cached[key] = (weakref.ref(message, partial(_forget, key)), snapshot, text)
    return text


def _forget(key: int, _ref: Any) -> None:
    """Drop the entry of a message that is gone (its id may be reused)."""
    _cached.pop(key, None)


def loads(data: bytes | str) -> Any:
    """Decode bytes produced by :func:`dumps`.

    Raises:
        CheckpointDecodeError: On malformed JSON, an unknown tag or a bad payload.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        return _DECODER.decode(text)
    except CheckpointDecodeError:
        raise
    except (ValueError, TypeError, AttributeError) as exc:
        raise CheckpointDecodeError(f"malformed checkpoint JSON: {exc}") from exc


def dumps_typed(value: Any) -> tuple[str, bytes]:
    """LangGraph-style ``(type, bytes)`` encoding; the type is always ``"json"``."""
    return "json", dumps(value)


def loads_typed(data: tuple[str, bytes]) -> Any:
    """Inverse of :func:`dumps_typed`.

    Raises:
        CheckpointDecodeError: If the type is not ``"json"`` or the bytes are bad.
    """
    kind, payload = data
    if kind != "json":
        raise CheckpointDecodeError(f"unsupported serde type {kind!r}")
    return loads(payload)
