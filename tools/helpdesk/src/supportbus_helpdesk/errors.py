"""The helpdesk's errors. They say what went wrong in domain terms only; ``api`` translates them
to HTTP status codes at the boundary, so the store stays usable without a web framework."""

from __future__ import annotations


class HelpdeskError(Exception):
    """Base of the helpdesk's errors."""


class IdempotencyConflict(HelpdeskError):
    """The idempotency key was already used for a different payload."""


class TicketNotFound(HelpdeskError):
    """No ticket has the requested id."""


class InvalidIdempotencyKey(HelpdeskError):
    """The Idempotency-Key header is missing, blank, or too long."""


class InvalidFaultDirective(HelpdeskError):
    """The X-Fault header (fault injection enabled) could not be understood."""


class InjectedFault(HelpdeskError):
    """A failure the caller asked for with ``X-Fault: 500`` (test-only fault injection)."""


class InjectedUnavailable(InjectedFault):
    """A failure drawn by the rate-based fault injection (``HELPDESK_FAULTS_5XX_RATE``)."""
