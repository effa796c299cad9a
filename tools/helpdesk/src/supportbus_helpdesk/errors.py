"""The helpdesk's errors. They say what went wrong in domain terms only; ``api`` translates them
to HTTP status codes at the boundary, so the store stays usable without a web framework.

The helpdesk stands in for an outside ticketing system, but its errors still root in the one
supportbus tree (drawn in ``supportbus_runtime.errors``): what the API answers 4xx for is a
``PermanentError``, what it answers 5xx for a ``TransientError``, the same split the ticketer
makes on the other side of the wire. The HTTP mapping itself looks at the helpdesk classes only.
"""

from __future__ import annotations

from supportbus_runtime.errors import PermanentError, SupportbusError, TransientError


class HelpdeskError(SupportbusError):
    """Base of the helpdesk's errors."""


class IdempotencyConflict(HelpdeskError, PermanentError):
    """The idempotency key was already used for a different payload."""


class TicketNotFound(HelpdeskError, PermanentError):
    """No ticket has the requested id."""


class InvalidIdempotencyKey(HelpdeskError, PermanentError):
    """The Idempotency-Key header is missing, blank, or too long."""


class InvalidFaultDirective(HelpdeskError, PermanentError):
    """The X-Fault header (fault injection enabled) could not be understood."""


class InjectedFault(HelpdeskError, TransientError):
    """A failure the caller asked for with ``X-Fault: 500`` (test-only fault injection)."""


class InjectedUnavailable(InjectedFault):
    """A failure drawn by the rate-based fault injection (``HELPDESK_FAULTS_5XX_RATE``)."""


class Unauthenticated(HelpdeskError, PermanentError):
    """No API key, or one the helpdesk does not hold (``HELPDESK_API_KEYS_FILE``)."""


class Forbidden(HelpdeskError, PermanentError):
    """A valid API key without the scope the endpoint needs."""
