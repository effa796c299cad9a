"""The reviewer's errors, rooted in the runtime's tree (``supportbus_runtime.errors``): the
delivery policy retries a ``TransientError`` and dead-letters anything else at once.

The runtime's own drawing of the tree lists the packages installed in the workspace's
environment; this agent lives in an environment of its own, so its classes are drawn here::

    SupportbusError
    └── ReviewerError             the reviewer's root
        ├── ReviewOutputInvalid   +PermanentError  the model's answer is not a valid review
        ├── CrewFailed            +PermanentError  CrewAI itself failed (raised from its error)
        └── ReviewTimedOut        +TransientError  a review outlasted REVIEWER_REVIEW_TIMEOUT_S
"""

from __future__ import annotations

from supportbus_runtime.errors import PermanentError, SupportbusError, TransientError


class ReviewerError(SupportbusError):
    """Root of the reviewer's errors."""


class ReviewOutputInvalid(ReviewerError, PermanentError):
    """The model answered, but not with a review that fits the schema: asking again would
    most likely get the same, so the record is dead-lettered with the reason."""


class CrewFailed(ReviewerError, PermanentError):
    """CrewAI raised an error of its own while running the crew."""


class ReviewTimedOut(ReviewerError, TransientError):
    """The review did not finish within its time limit."""
