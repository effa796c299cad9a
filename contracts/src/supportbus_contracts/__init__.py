"""supportbus contracts: the typed, versioned events services exchange over Kafka."""

from __future__ import annotations

from supportbus_contracts.envelope import EVENT_ID_NAMESPACE, Event
from supportbus_contracts.events import (
    ALL_EVENTS,
    Article,
    Channel,
    Classification,
    KnowledgeRetrieved,
    Priority,
    QueryEmbedding,
    RequestClassified,
    RequestReceived,
    ResponseReady,
    SupportRequest,
    Ticket,
    TicketCreated,
)

__all__ = [
    "ALL_EVENTS",
    "EVENT_ID_NAMESPACE",
    "Article",
    "Channel",
    "Classification",
    "Event",
    "KnowledgeRetrieved",
    "Priority",
    "QueryEmbedding",
    "RequestClassified",
    "RequestReceived",
    "ResponseReady",
    "SupportRequest",
    "Ticket",
    "TicketCreated",
]
