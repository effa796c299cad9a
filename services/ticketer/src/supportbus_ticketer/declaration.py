"""What the ticketer consumes and publishes, declared once: its handlers publish through these
outputs, and its AsyncAPI document is generated from this module alone."""

from __future__ import annotations

from supportbus_contracts import KnowledgeRetrieved, TicketCreated
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, TICKET_CREATED
from supportbus_runtime.kit import Input, Output, ServiceDeclaration

SERVICE = "ticketer"

CREATED = Output(TICKET_CREATED, TicketCreated)
RETRIEVED = Input(KNOWLEDGE_RETRIEVED, KnowledgeRetrieved, outputs=(CREATED,))

DECLARATION = ServiceDeclaration(SERVICE, inputs=(RETRIEVED,))
