"""The JSON shapes of the HTTP API (pydantic). Limits mirror ``supportbus_contracts.events`` so a
request the pipeline accepted always fits in a ticket."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from supportbus_helpdesk.store import Ticket, TicketFields

Priority = Literal["urgent", "high", "normal", "low"]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class TicketCreate(BaseModel):
    # Unknown fields are rejected rather than ignored: the idempotency hash covers exactly the
    # fields below, so silently dropping a client's extra field would hide a client bug.
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: Identifier
    subject: str = Field(max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    customer_id: Identifier
    customer_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    category: Identifier
    intent: Identifier
    priority: Priority

    def to_fields(self) -> TicketFields:
        return TicketFields(**self.model_dump())


class TicketOut(BaseModel):
    """A ticket without the customer's message or address (PII minimisation): what lists and
    creations return."""

    id: str
    url: str
    status: str
    request_id: str
    subject: str
    category: str
    intent: str
    priority: str
    customer_id: str
    created_at: datetime

    @classmethod
    def of(cls, ticket: Ticket, public_base_url: str) -> TicketOut:
        return cls(
            id=ticket.id,
            url=ticket_url(public_base_url, ticket.id),
            status=ticket.status,
            request_id=ticket.request_id,
            subject=ticket.subject,
            category=ticket.category,
            intent=ticket.intent,
            priority=ticket.priority,
            customer_id=ticket.customer_id,
            created_at=ticket.created_at,
        )


class TicketDetailOut(TicketOut):
    """One ticket in full, for the single-ticket GET."""

    body: str
    customer_email: str | None

    @classmethod
    def of(cls, ticket: Ticket, public_base_url: str) -> TicketDetailOut:
        summary = TicketOut.of(ticket, public_base_url)
        return cls(**summary.model_dump(), body=ticket.body, customer_email=ticket.customer_email)


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int


class ErrorOut(BaseModel):
    error: str
    detail: str


def ticket_url(public_base_url: str, ticket_id: str) -> str:
    return f"{public_base_url}/v1/tickets/{ticket_id}"
