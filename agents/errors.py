"""The agents/ exception hierarchy.

Provider adapters normalise every transport and vendor failure into
:class:`ProviderError`, whose ``retryable`` flag is the only thing callers (the retry
loop here, the runtime's attempt policy) need to decide what to do next.
"""

from __future__ import annotations

__all__ = [
    "AgentError",
    "ApprovalError",
    "ProviderError",
    "StructuredOutputError",
    "ToolError",
    "ToolNotFoundError",
]


class AgentError(Exception):
    """Root of agents/ errors. Do not raise directly; raise a leaf."""


class ProviderError(AgentError):
    """A chat model provider call failed.

    Args:
        message: Human-readable description (the vendor's message when it sent one).
        retryable: True for rate limits, 5xx, timeouts and connection failures;
            False for authentication, bad requests and other permanent failures.
        status_code: HTTP status, when there was a response.
        retry_after: Seconds the provider asked us to wait, when it said so.
        provider: Provider id (``openai``, ``anthropic``...), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after = retry_after
        self.provider = provider

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.message!r}, retryable={self.retryable}, "
            f"status_code={self.status_code}, retry_after={self.retry_after})"
        )


class ToolError(AgentError):
    """A tool refused or failed; the message is shown to the model as the result."""


class ToolNotFoundError(ToolError):
    """The model asked for a tool that is not registered."""


class ApprovalError(AgentError, ValueError):
    """A human decision on a tool call was malformed or not allowed."""


class StructuredOutputError(AgentError):
    """The model's structured response did not validate against the schema."""
