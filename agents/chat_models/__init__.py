"""Chat models behind one protocol, chosen by ``"provider:model"`` strings.

>>> model = init_chat_model("scripted", responses=["hi"])
>>> model.invoke("hello").text
'hi'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from agents.chat_models._http import HttpTransport, RetryPolicy, SSEDecoder
from agents.chat_models.anthropic import ChatAnthropic
from agents.chat_models.base import BaseChatModel, ChatModel, HttpChatModel, Pricing
from agents.chat_models.ollama import ChatOllama
from agents.chat_models.openai import AzureChatOpenAI, ChatOpenAI
from agents.chat_models.scripted import ScriptedChatModel

__all__ = [
    "PROVIDERS",
    "AzureChatOpenAI",
    "BaseChatModel",
    "ChatAnthropic",
    "ChatModel",
    "ChatOllama",
    "ChatOpenAI",
    "HttpChatModel",
    "HttpTransport",
    "Pricing",
    "RetryPolicy",
    "SSEDecoder",
    "ScriptedChatModel",
    "detect_provider_from_env",
    "init_chat_model",
]


def _deepseek(model: str, **kw: Any) -> BaseChatModel:
    kw.setdefault(
        "base_url", os.environ.get("DEEPSEEK_BASE_URL", "https://api.deepseek.com/v1")
    )
    kw.setdefault("api_key", os.environ.get("DEEPSEEK_API_KEY"))
    return ChatOpenAI(model, **kw)


def _vllm(model: str, **kw: Any) -> BaseChatModel:
    kw.setdefault(
        "base_url", os.environ.get("VLLM_BASE_URL", "http://localhost:8000/v1")
    )
    kw.setdefault("api_key", os.environ.get("VLLM_API_KEY"))
    return ChatOpenAI(model, **kw)


def _ollama(model: str, **kw: Any) -> BaseChatModel:
    if "max_tokens" in kw:
        kw["num_predict"] = kw.pop("max_tokens")
    return ChatOllama(model, **kw)


def _anthropic(model: str, **kw: Any) -> BaseChatModel:
    return ChatAnthropic(model, **kw)


def _scripted(model: str, **kw: Any) -> BaseChatModel:
    return ScriptedChatModel(kw.pop("responses", ()), model=model, **kw)


PROVIDERS: dict[str, tuple[Callable[..., BaseChatModel], str]] = {
    "openai": (ChatOpenAI, "gpt-4o-mini"),
    "azure_openai": (AzureChatOpenAI, ""),
    "anthropic": (_anthropic, "claude-sonnet-4-5"),
    "claude": (_anthropic, "claude-sonnet-4-5"),
    "ollama": (_ollama, "llama3.2"),
    "deepseek": (_deepseek, "deepseek-chat"),
    "vllm": (_vllm, ""),
    "scripted": (_scripted, "scripted"),
}
"""Provider id -> (factory, default model)."""

_PREFIXES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt", "openai"),
    ("claude", "anthropic"),
    ("deepseek", "deepseek"),
)


def detect_provider_from_env() -> str:
    """Pick a provider from the environment, for ``init_chat_model("auto")``.

    Returns:
        ``openai`` if ``OPENAI_API_KEY`` (or ``OPENAI_BASE_URL``) is set, else
        ``anthropic`` if ``ANTHROPIC_API_KEY`` is set, else ``ollama`` if
        ``OLLAMA_HOST`` is set, else ``scripted``.
    """
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return "openai"
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("CLAUDE_API_KEY"):
        return "anthropic"
    if os.environ.get("OLLAMA_HOST"):
        return "ollama"
    return "scripted"


def _split(spec: str, model_provider: str | None) -> tuple[str, str]:
    if model_provider:
        return model_provider, spec
    head, sep, tail = spec.partition(":")
    if head in PROVIDERS or head == "auto":
        return head, tail if sep else ""
    for prefix, provider in _PREFIXES:
        if spec.startswith(prefix):
            return provider, spec
    raise ValueError(
        f"Cannot tell the provider of model {spec!r}; write 'provider:model' with "
        f"provider one of {', '.join(sorted(PROVIDERS))}"
    )


def init_chat_model(
    model: str | BaseChatModel, *, model_provider: str | None = None, **kwargs: Any
) -> BaseChatModel:
    """Create a chat model from a ``"provider:model"`` string.

    Providers: ``openai`` (any OpenAI-compatible server via ``base_url``: vLLM,
    Ollama's ``/v1``, LM Studio...), ``azure_openai``, ``anthropic`` (alias
    ``claude``), ``ollama`` (native API), ``deepseek``, ``vllm``, ``scripted``, and
    ``auto`` (see :func:`detect_provider_from_env`). A bare name is matched by prefix
    (``gpt-*``, ``claude*``, ``deepseek*``); a provider without a model uses its
    default model.

    Args:
        model: ``"openai:gpt-4o-mini"``, ``"ollama:llama3.2:3b"``, ``"anthropic"``...
            An existing model instance is returned unchanged.
        model_provider: Provider id, when ``model`` is just the model name.
        **kwargs: Constructor arguments (``api_key``, ``base_url``, ``timeout``,
            ``max_retries``, ``temperature``, ``max_tokens``, ``responses``...).

    Returns:
        The chat model.

    Raises:
        ValueError: For an unknown provider or missing credentials.
    """
    if isinstance(model, BaseChatModel):
        return model
    provider, name = _split(model, model_provider)
    if provider == "auto":
        provider = detect_provider_from_env()
    if provider not in PROVIDERS:
        raise ValueError(f"Unknown chat model provider {provider!r}")
    factory, default = PROVIDERS[provider]
    if not (name or default):
        raise ValueError(
            f"Provider {provider!r} needs a model name ('{provider}:<model>')"
        )
    return factory(name or default, **kwargs)
