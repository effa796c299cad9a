"""Opening exactly one ticket per support request."""

from __future__ import annotations

from supportbus_contracts import Classification, SupportRequest, Ticket
from supportbus_ticketer.ports import TicketDraft, TicketingSystem


class TicketService:
    def __init__(self, tickets: TicketingSystem) -> None:
        self._tickets = tickets

    async def open_ticket(
        self, request_id: str, request: SupportRequest, classification: Classification
    ) -> Ticket:
        draft = TicketDraft(
            request_id=request_id,
            subject=request.subject or classification.summary or "(no subject)",
            body=request.body,
            customer_id=request.customer_id,
            customer_email=request.email,
            category=classification.category,
            intent=classification.intent,
            priority=classification.priority,
        )
        # The case key is the idempotency key: however often this request is redelivered,
        # the ticketing system returns the one ticket it created first.
        return await self._tickets.create_ticket(draft, idempotency_key=request_id)
