"""Opening exactly one ticket per support request."""

from __future__ import annotations

from supportbus_contracts import Classification, SupportRequest, Ticket
from supportbus_runtime.telemetry import tracer
from supportbus_ticketer.ports import TicketDraft, TicketingSystem

_tracer = tracer(__name__)


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
            queue=classification.route,
        )
        # The case key is the idempotency key: however often this request is redelivered,
        # the ticketing system returns the one ticket it created first.
        with _tracer.start_as_current_span("create_ticket") as span:
            span.set_attribute("supportbus.priority", classification.priority)
            ticket = await self._tickets.create_ticket(draft, idempotency_key=request_id)
            span.set_attribute("supportbus.ticket_id", ticket.ticket_id)
            return ticket
