"""What ticketing needs from a ticketing system."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from supportbus_contracts import Ticket


class TicketDraft(BaseModel):
    """What a new ticket says; identical for every redelivery of the same request."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    subject: str
    body: str
    customer_id: str
    customer_email: str | None
    category: str
    intent: str
    priority: str


class TicketingSystem(Protocol):
    async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
        """Create the ticket, or return the one already created under ``idempotency_key``."""
        ...
