"""The ticketer's errors: one root, ``TicketerError``, each also transient or permanent so the
delivery policy retries only what may succeed later (the whole tree is drawn in
``supportbus_runtime.errors``)."""

from __future__ import annotations

from supportbus_runtime.errors import PermanentError, SupportbusError, TransientError


class TicketerError(SupportbusError):
    """Base of the ticketer's errors."""


class HelpdeskUnavailable(TicketerError, TransientError):
    """Timeouts, refused connections or 5xx answers, still failing after our retries."""


class TicketRejected(TicketerError, PermanentError):
    """The helpdesk answered 4xx: retrying the same request cannot succeed."""
