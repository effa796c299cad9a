"""Shared LLM plumbing: settings, client (retries, circuit breaker, fallback, token budget) and
guardrails, used the same way by every service that may call an OpenAI-compatible model.

Names are loaded on first use (PEP 562): the client pulls in aiohttp, tenacity and tiktoken,
about a second of imports that a service on its embedded model never needs, and that a restarted
process would otherwise pay before it takes its partitions back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportbus_runtime.llm.breaker import CircuitBreaker
    from supportbus_runtime.llm.client import LlmClient, LlmResult, Prompt
    from supportbus_runtime.llm.errors import (
        LlmPermanentError,
        LlmRateLimited,
        LlmTimeout,
        LlmTransientError,
        LlmUnavailable,
    )
    from supportbus_runtime.llm.settings import LlmSettingsMixin

_WHERE = {
    "CircuitBreaker": "breaker",
    "LlmClient": "client",
    "LlmResult": "client",
    "Prompt": "client",
    "LlmPermanentError": "errors",
    "LlmRateLimited": "errors",
    "LlmTimeout": "errors",
    "LlmTransientError": "errors",
    "LlmUnavailable": "errors",
    "LlmSettingsMixin": "settings",
}

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
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
