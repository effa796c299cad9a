"""Shared LLM plumbing: settings, client (retries, circuit breaker, fallback, token budget) and
guardrails, used the same way by every service that may call an OpenAI-compatible model."""

from supportbus_runtime.llm.breaker import CircuitBreaker
from supportbus_runtime.llm.client import LlmClient, LlmResult, Prompt, build_chat_model
from supportbus_runtime.llm.errors import (
    LlmPermanentError,
    LlmRateLimited,
    LlmTimeout,
    LlmTransientError,
    LlmUnavailable,
)
from supportbus_runtime.llm.settings import LlmSettingsMixin

__all__ = [
    "CircuitBreaker",
    "LlmClient",
    "LlmPermanentError",
    "LlmRateLimited",
    "LlmResult",
    "LlmSettingsMixin",
    "LlmTimeout",
    "LlmTransientError",
    "LlmUnavailable",
    "Prompt",
    "build_chat_model",
]
