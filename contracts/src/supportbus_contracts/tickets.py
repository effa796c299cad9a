"""What a ticket says: the one definition of a ticket's fields.

The ticketer writes these fields and the ticketing system stores them, so both read them from
here rather than each keeping a copy. Not an event and on no topic: it is the payload of the
ticketing HTTP call. Limits are those of the events the fields come from, so a request the
pipeline accepted always fits in a ticket.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from supportbus_contracts.envelope import Contract
from supportbus_contracts.events import (
    MAX_BODY_CHARS,
    MAX_SUBJECT_CHARS,
    Identifier,
    Priority,
    ReplyRoute,
)


class TicketDraft(Contract):
    """The fields a new ticket is opened with; identical for every redelivery of one request, so
    they are also what an idempotency key stands for."""

    # Fields holding the customer's own words or address: a ticketing system that lists tickets
    # (or anything else that shows them widely) leaves these out.
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset({"body", "customer_email"})

    request_id: Identifier
    subject: str = Field(max_length=MAX_SUBJECT_CHARS)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    customer_id: Identifier
    customer_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    category: Identifier
    intent: Identifier
    priority: Priority
    queue: ReplyRoute = Field(
        default="auto",
        description="human: a person answers it (the handoff queue); auto: the pipeline.",
    )
