"""What the responder consumes and publishes, declared once: its handlers publish through these
outputs, and its AsyncAPI document is generated from this module alone."""

from __future__ import annotations

from supportbus_contracts import ResponseReady, TicketCreated
from supportbus_contracts.topics import RESPONSE_READY, TICKET_CREATED
from supportbus_runtime.kit import Input, Output, ServiceDeclaration

SERVICE = "responder"

READY = Output(RESPONSE_READY, ResponseReady)
CREATED = Input(TICKET_CREATED, TicketCreated, outputs=(READY,))

DECLARATION = ServiceDeclaration(SERVICE, inputs=(CREATED,))
