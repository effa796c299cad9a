"""supportbus contracts: the typed, versioned events services exchange over Kafka, and the
fields of a ticket the ticketer and the ticketing system share."""

from __future__ import annotations

from supportbus_contracts.envelope import EVENT_ID_NAMESPACE, Event
from supportbus_contracts.events import (
    ALL_EVENTS,
    Article,
    Channel,
    Classification,
    HandoffReason,
    KnowledgeRetrieved,
    Priority,
    QueryEmbedding,
    ReplyRoute,
    RequestClassified,
    RequestReceived,
    ResponseReady,
    SupportRequest,
    Ticket,
    TicketCreated,
)
from supportbus_contracts.tickets import TicketDraft

__all__ = [
    "ALL_EVENTS",
    "EVENT_ID_NAMESPACE",
    "Article",
    "Channel",
    "Classification",
    "Event",
    "HandoffReason",
    "KnowledgeRetrieved",
    "Priority",
    "QueryEmbedding",
    "ReplyRoute",
    "RequestClassified",
    "RequestReceived",
    "ResponseReady",
    "SupportRequest",
    "Ticket",
    "TicketCreated",
    "TicketDraft",
]
