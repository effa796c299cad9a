"""LLM failures in supportbus's hierarchy; ``chat_api`` raises them ``from`` aiohttp's errors.

    TransientError
     └─ LlmTransientError      timeout, connection failure, 429 or 5xx: retried
         ├─ LlmRateLimited     429, with the server's Retry-After
         ├─ LlmTimeout         no answer within LLM_TIMEOUT_S
         └─ LlmUnavailable     neither model answered, or the circuit is open
    PermanentError
     └─ LlmPermanentError      any other 4xx, or a prompt that cannot fit the token budget
"""

from __future__ import annotations

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


def _seconds(retry_after: str | None) -> float | None:
    # Retry-After may also be an HTTP date; then we wait our own backoff instead.
    try:
        return max(float(retry_after), 0.0) if retry_after is not None else None
    except ValueError:
        return None


def for_status(
    status: int, retry_after: str | None = None
) -> LlmTransientError | LlmPermanentError:
    """Our error for an HTTP error answer: 429 rate-limited (with its ``Retry-After``), 5xx, 408
    and 409 worth retrying, any other status a refusal that asking again would not change."""
    if status == 429:
        return LlmRateLimited(
            "the LLM endpoint rate-limited the call", retry_after_s=_seconds(retry_after)
        )
    if status >= 500 or status in (408, 409):
        return LlmTransientError(f"the LLM endpoint answered HTTP {status}")
    return LlmPermanentError(f"the LLM endpoint refused the call: HTTP {status}")
