"""The JSON shapes of the HTTP API (pydantic).

A ticket's fields are ``supportbus_contracts.TicketDraft`` (the one definition the ticketer
writes too); the shapes here only extend it with what the helpdesk adds (id, url, status,
creation time) or leave out its personal fields.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, create_model

from supportbus_contracts import TicketDraft
from supportbus_helpdesk.store import Ticket


class TicketCreate(TicketDraft):
    # Unknown fields are rejected rather than ignored: the idempotency hash covers exactly the
    # draft's fields, so silently dropping a client's extra field would hide a client bug.
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_fields(self) -> TicketDraft:
        return TicketDraft.model_validate(self.model_dump())


class _Recorded(BaseModel):
    """What the helpdesk adds to a ticket's fields."""

    # A response always carries every field, null or not: say so in the schema of responses
    # (``customer_email`` has a default only as input).
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: str
    url: str
    status: str
    created_at: datetime


def _public_fields() -> dict[str, Any]:
    # Copies: a FieldInfo belongs to the model it was collected for.
    return {
        name: (field.annotation, copy.copy(field))
        for name, field in TicketDraft.model_fields.items()
        if name not in TicketDraft.PERSONAL_FIELDS
    }


if TYPE_CHECKING:

    class _TicketSummary(BaseModel):
        """To the type checker the summary is just a model: its fields are only read through
        ``model_dump`` and the HTTP schema, never as attributes."""

else:
    _TicketSummary = create_model("_TicketSummary", __module__=__name__, **_public_fields())


class TicketOut(_TicketSummary, _Recorded):
    """A ticket without the customer's message or address (PII minimisation): what lists and
    creations return."""

    @classmethod
    def of(cls, ticket: Ticket, public_base_url: str) -> TicketOut:
        return cls.model_validate(_wire_values(ticket, public_base_url, cls))


class TicketDetailOut(TicketDraft, _Recorded):
    """One ticket in full, for the single-ticket GET."""

    @classmethod
    def of(cls, ticket: Ticket, public_base_url: str) -> TicketDetailOut:
        return cls.model_validate(_wire_values(ticket, public_base_url, cls))


def _wire_values(ticket: Ticket, public_base_url: str, shape: type[BaseModel]) -> dict[str, Any]:
    values = ticket.model_dump(include=set(shape.model_fields))
    values["url"] = ticket_url(public_base_url, ticket.id)
    return values


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int


class KeyOut(BaseModel):
    name: str
    scopes: list[str]


class ErrorOut(BaseModel):
    error: str
    detail: str


def ticket_url(public_base_url: str, ticket_id: str) -> str:
    return f"{public_base_url}/v1/tickets/{ticket_id}"
