"""The one error hierarchy every supportbus package roots its own errors in.

The delivery policy decides by type alone: a ``TransientError`` is retried with backoff and then
dead-lettered; anything else raised by a handler is dead-lettered at once with its reason.
"""

from __future__ import annotations


class SupportbusError(Exception):
    """Base of every error supportbus raises on purpose."""


class TransientError(SupportbusError):
    """Worth retrying: a timeout, a refused connection, a 5xx, a broker hiccup."""


class PermanentError(SupportbusError):
    """Retrying cannot help: invalid input, a 4xx, a business rule."""


class ConfigurationError(SupportbusError):
    """The service cannot start as configured (missing model file, bad setting)."""


class MessageRejected(PermanentError):
    """An incoming record that cannot be decoded or validated; carries a PII-free reason."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


class RetryBudgetExhausted(TransientError):
    """A transient failure that outlasted the retry budget; the record is dead-lettered."""

    def __init__(self, last: TransientError, attempts: int, elapsed_s: float) -> None:
        super().__init__(
            f"gave up after {attempts} attempt(s) over {elapsed_s:.1f} s (the retry budget): "
            f"{type(last).__name__}: {last}"
        )
        self.last = last
        self.attempts = attempts
