"""LLM failures, translated from openai/httpx exceptions into supportbus's hierarchy."""

from __future__ import annotations

from typing import Any

import openai

from supportbus_runtime.errors import PermanentError, TransientError


class LlmTransientError(TransientError):
    """Timeout, connection failure, 429 or 5xx: worth retrying."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LlmRateLimited(LlmTransientError):
    """HTTP 429; ``retry_after_s`` from the ``Retry-After`` header when given."""


class LlmTimeout(LlmTransientError):
    """No answer within the client timeout."""


class LlmPermanentError(PermanentError):
    """A 4xx other than 429, or a prompt that cannot fit the token budget."""


class LlmUnavailable(LlmTransientError):
    """Neither the primary nor the fallback model answered (or the circuit is open)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"LLM unavailable: {reason}")
        self.reason = reason


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def translate(error: BaseException) -> LlmTransientError | LlmPermanentError | None:
    """Our error for a library error (raise it ``from`` the original); None if not an LLM one."""
    if isinstance(error, openai.APITimeoutError):
        return LlmTimeout("the LLM did not answer in time")
    if isinstance(error, openai.RateLimitError):
        return LlmRateLimited(
            "the LLM endpoint rate-limited the call", retry_after_s=_retry_after(error.response)
        )
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        if status >= 500 or status in (408, 409):
            return LlmTransientError(f"the LLM endpoint answered HTTP {status}")
        return LlmPermanentError(f"the LLM endpoint refused the call: HTTP {status}")
    if isinstance(error, openai.APIConnectionError):
        return LlmTransientError("cannot reach the LLM endpoint")
    return None
