"""The chat model protocol every provider implements.

A chat model takes a list of messages (and optionally tools) and returns an
:class:`~graphs.messages.AIMessage` (``invoke``/``ainvoke``) or a stream of
:class:`~graphs.messages.AIMessageChunk` (``stream``/``astream``). Subclasses
implement ``_generate`` and, when the vendor streams, ``_stream``; HTTP adapters
derive from :class:`HttpChatModel`, which needs only a request builder, a response
parser and a stream decoder per wire format.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from agents.chat_models._http import HttpTransport
from agents.effects import account_reply, fork_model, model_request, reply_chunks
from agents.instrumentation import ObservedCall, model_call
from agents.tools.base import ToolSpec, to_tool_spec
from graphs.effects import (
    Effect,
    aperform,
    aperform_stream,
    perform,
    perform_stream,
)
from graphs.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    UsageMetadata,
    add_usage,
    convert_to_messages,
)

__all__ = ["BaseChatModel", "ChatModel", "HttpChatModel", "Pricing", "StreamDecoder"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Pricing:
    """Price per million tokens, used to record ``cost_usd`` per call.

    Args:
        input_per_million: USD per million input tokens.
        output_per_million: USD per million output tokens.
    """

    input_per_million: float
    output_per_million: float

    def cost(self, usage: UsageMetadata) -> float:
        """USD cost of one call's usage."""
        return (
            usage["input_tokens"] * self.input_per_million
            + usage["output_tokens"] * self.output_per_million
        ) / 1_000_000


class _UsageMeter:
    def __init__(self) -> None:
        self.total: UsageMetadata | None = None
        self._lock = threading.Lock()

    def add(self, usage: UsageMetadata) -> None:
        with self._lock:
            self.total = add_usage(self.total, usage)


class ChatModel(Protocol):
    """What agents need from a chat model (structural type)."""

    def invoke(
        self, messages: Any, *, tools: Sequence[Any] | None = None, **kwargs: Any
    ) -> AIMessage: ...

    def stream(
        self, messages: Any, *, tools: Sequence[Any] | None = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]: ...


class BaseChatModel:
    """Base class of chat models.

    Args:
        model: Model name as the provider knows it.
        pricing: Optional prices; when set each reply carries ``cost_usd`` in its
            ``response_metadata``.
    """

    provider: ClassVar[str] = "base"

    def __init__(self, *, model: str, pricing: Pricing | None = None) -> None:
        self.model = model
        self.pricing = pricing
        self._bound_tools: list[ToolSpec] = []
        self._bound_tool_choice: str | None = None
        # Shared with bind_tools() copies, so usage sums across them.
        self._meter = _UsageMeter()

    @property
    def usage(self) -> UsageMetadata | None:
        """Token usage summed over every call made through this model (and copies)."""
        return self._meter.total

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None
    ) -> BaseChatModel:
        """Return a copy that sends ``tools`` with every call.

        Args:
            tools: Tools, functions or tool spec dicts.
            tool_choice: ``"auto"``, ``"required"``/``"any"``, ``"none"`` or a tool
                name to force.

        Returns:
            The bound copy (usage is still summed on the original's counter).
        """
        bound = copy.copy(self)
        bound._bound_tools = [to_tool_spec(t) for t in tools]
        bound._bound_tool_choice = tool_choice
        return bound

    def _prepare(
        self, messages: Any, tools: Sequence[Any] | None, tool_choice: str | None
    ) -> tuple[list[BaseMessage], list[ToolSpec], str | None]:
        specs = [to_tool_spec(t) for t in tools] if tools is not None else None
        return (
            convert_to_messages(messages),
            specs if specs is not None else list(self._bound_tools),
            tool_choice or self._bound_tool_choice,
        )

    def _call(
        self,
        messages: Any,
        tools: Sequence[Any] | None,
        tool_choice: str | None,
        kwargs: dict[str, Any],
    ) -> _ModelCall:
        msgs, specs, choice = self._prepare(messages, tools, tool_choice)
        model, msgs = fork_model(self, msgs)
        return _ModelCall(model, (msgs, specs, choice, kwargs))

    def _finish(self, message: AIMessage) -> AIMessage:
        meta = message.response_metadata
        meta.setdefault("model_provider", self.provider)
        meta.setdefault("model_name", self.model)
        if message.usage_metadata is not None:
            self._meter.add(message.usage_metadata)
            if self.pricing is not None:
                meta["cost_usd"] = round(self.pricing.cost(message.usage_metadata), 8)
        return message

    def invoke(
        self,
        messages: Any,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Call the model once.

        Args:
            messages: Message-likes (see ``convert_to_messages``); a string is one
                human message.
            tools: Tools offered for this call (overrides :meth:`bind_tools`).
            tool_choice: See :meth:`bind_tools`.
            **kwargs: Provider-specific request fields.

        Returns:
            The reply, with ``usage_metadata`` when the provider reports it.

        Raises:
            ProviderError: When the provider call fails (after retries).
        """
        # inside a durable run the call is an effect: answered from the ledger
        # when recorded, else sent (with a fork's overrides) and recorded
        c = self._call(messages, tools, tool_choice, kwargs)
        send = c.model._invoke
        return perform(
            *c.effect, lambda _e: send(*c.args), account=account_reply, encoded=True
        )

    def _invoke(
        self,
        msgs: list[BaseMessage],
        specs: list[ToolSpec],
        choice: str | None,
        kwargs: dict[str, Any],
    ) -> AIMessage:
        with self._observe(stream=False) as call:
            reply = call.reply = self._finish(
                self._generate(msgs, specs, choice, **kwargs)
            )
        return reply

    async def ainvoke(
        self,
        messages: Any,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Async :meth:`invoke` (an effect inside a durable run, as it is)."""
        c = self._call(messages, tools, tool_choice, kwargs)
        send = c.model._ainvoke
        return await aperform(
            *c.effect, lambda _e: send(*c.args), account=account_reply, encoded=True
        )

    async def _ainvoke(
        self,
        msgs: list[BaseMessage],
        specs: list[ToolSpec],
        choice: str | None,
        kwargs: dict[str, Any],
    ) -> AIMessage:
        with self._observe(stream=False) as call:
            reply = await self._agenerate(msgs, specs, choice, **kwargs)
            reply = call.reply = self._finish(reply)
        return reply

    def stream(
        self,
        messages: Any,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the reply as chunks; ``sum`` them and call ``to_message()``.

        Raises:
            ProviderError: When the provider call fails.
        """
        c = self._call(messages, tools, tool_choice, kwargs)
        send = c.model._streamed
        return perform_stream(
            *c.effect,
            lambda _e: send(*c.args),
            _streamed_reply,
            reply_chunks,
            encoded=True,
        )

    def _streamed(
        self,
        msgs: list[BaseMessage],
        specs: list[ToolSpec],
        choice: str | None,
        kwargs: dict[str, Any],
    ) -> Iterator[AIMessageChunk]:
        total: AIMessageChunk | None = None
        with self._observe(stream=True) as call:
            for chunk in self._stream(msgs, specs, choice, **kwargs):
                total = chunk if total is None else total + chunk
                yield chunk
            if total is not None:
                call.reply = self._finish(total.to_message())

    async def astream(
        self,
        messages: Any,
        *,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async :meth:`stream` (an effect inside a durable run, as it is)."""
        c = self._call(messages, tools, tool_choice, kwargs)
        send = c.model._astreamed
        async for chunk in aperform_stream(
            *c.effect,
            lambda _e: send(*c.args),
            _streamed_reply,
            reply_chunks,
            encoded=True,
        ):
            yield chunk

    async def _astreamed(
        self,
        msgs: list[BaseMessage],
        specs: list[ToolSpec],
        choice: str | None,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[AIMessageChunk]:
        total: AIMessageChunk | None = None
        with self._observe(stream=True) as call:
            async for chunk in self._astream(msgs, specs, choice, **kwargs):
                total = chunk if total is None else total + chunk
                yield chunk
            if total is not None:
                call.reply = self._finish(total.to_message())

    def _observe(self, *, stream: bool) -> ObservedCall:
        return model_call(
            provider=self.provider,
            model=self.model,
            stream=stream,
            server=self._server(),
        )

    def _server(self) -> str:
        """The endpoint root the calls go to (``""``: not over the network)."""
        return ""

    # -- provider hooks -------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AIMessage:
        raise NotImplementedError

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AIMessage:
        return await asyncio.to_thread(
            self._generate, messages, tools, tool_choice, **kwargs
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        reply = self._generate(messages, tools, tool_choice, **kwargs)
        yield _as_chunk(reply)

    async def _astream(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        for chunk in await asyncio.to_thread(
            lambda: list(self._stream(messages, tools, tool_choice, **kwargs))
        ):
            yield chunk

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider}:{self.model}>"


class _ModelCall:
    """One model call as an effect: the model it goes to (a fork's overrides
    applied) and the arguments of its provider hook."""

    __slots__ = ("args", "model")

    def __init__(
        self,
        model: BaseChatModel,
        args: tuple[list[BaseMessage], list[ToolSpec], str | None, dict[str, Any]],
    ) -> None:
        self.model, self.args = model, args

    @property
    def effect(self) -> tuple[Literal["model"], str, dict[str, Any]]:
        """``kind, name, request`` of the effect."""
        model = self.model
        return (
            "model",
            f"{model.provider}:{model.model}",
            model_request(model, *self.args),
        )


def _streamed_reply(effect: Effect, chunks: list[AIMessageChunk]) -> AIMessage:
    """The reply a streamed model effect records (its usage and cost counted)."""
    if not chunks:
        return AIMessage("")
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    reply = total.to_message()
    account_reply(effect, reply)
    return reply


def _as_chunk(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(
        content=message.content,
        id=message.id,
        name=message.name,
        additional_kwargs=dict(message.additional_kwargs),
        response_metadata=dict(message.response_metadata),
        tool_calls=list(message.tool_calls),
        invalid_tool_calls=list(message.invalid_tool_calls),
        usage_metadata=message.usage_metadata,
    )


class StreamDecoder(Protocol):
    """Turns response lines of one wire format into message chunks."""

    def feed(self, line: str) -> list[AIMessageChunk]:
        """Consume one line; return the chunks it completes."""
        ...

    def close(self) -> list[AIMessageChunk]:
        """End of stream; return any pending chunks."""
        ...


class HttpChatModel(BaseChatModel):
    """A chat model spoken to over HTTP via :class:`HttpTransport`.

    Subclasses implement :meth:`_payload`, :meth:`_parse` and :meth:`_decoder` and
    set :attr:`path`.
    """

    path: ClassVar[str] = ""

    def __init__(
        self,
        *,
        model: str,
        transport: HttpTransport,
        pricing: Pricing | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model=model, pricing=pricing)
        self.transport = transport
        self.model_kwargs = dict(model_kwargs or {})

    def _server(self) -> str:
        return self.transport.base_url

    def _payload(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        *,
        stream: bool,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def _parse(self, data: dict[str, Any]) -> AIMessage:
        raise NotImplementedError

    def _decoder(self) -> StreamDecoder:
        raise NotImplementedError

    def _body(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        stream: bool,
        kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        body = self._payload(messages, tools, tool_choice, stream=stream)
        body.update(self.model_kwargs)
        body.update(kwargs)
        return body

    def _generate(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AIMessage:
        body = self._body(messages, tools, tool_choice, False, kwargs)
        return self._parse(self.transport.post(self.path, body))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AIMessage:
        body = self._body(messages, tools, tool_choice, False, kwargs)
        return self._parse(await self.transport.apost(self.path, body))

    def _stream(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        body = self._body(messages, tools, tool_choice, True, kwargs)
        decoder = self._decoder()
        for line in self.transport.stream_lines(self.path, body):
            yield from decoder.feed(line)
        yield from decoder.close()

    async def _astream(
        self,
        messages: list[BaseMessage],
        tools: list[ToolSpec],
        tool_choice: str | None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        body = self._body(messages, tools, tool_choice, True, kwargs)
        decoder = self._decoder()
        async for line in self.transport.astream_lines(self.path, body):
            for chunk in decoder.feed(line):
                yield chunk
        for chunk in decoder.close():
            yield chunk
