"""The ticketer's errors: one root, ``TicketerError``, each also transient or permanent so the
delivery policy retries only what may succeed later (the whole tree is drawn in
``supportbus_runtime.errors``)."""

from __future__ import annotations

from supportbus_runtime.errors import (
    ConfigurationError,
    PermanentError,
    SupportbusError,
    TransientError,
)


class TicketerError(SupportbusError):
    """Base of the ticketer's errors."""


class HelpdeskUnavailable(TicketerError, TransientError):
    """Timeouts, refused connections or 5xx answers, still failing after our retries."""


class TicketRejected(TicketerError, PermanentError):
    """The helpdesk answered 4xx: retrying the same request cannot succeed."""


class HelpdeskKeyRefused(TicketerError, ConfigurationError, PermanentError):
    """The helpdesk does not accept the ticketer's API key, or the key may not create tickets.

    A configuration to fix, never a reason to retry: checked at start (the service does not
    start) and, should the key be revoked while running, the record is dead-lettered saying so
    (replay it once the key is fixed).
    """
