"""Adapters from events to the ticket service, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import KnowledgeRetrieved, TicketCreated
from supportbus_runtime.kit import Publication, Route
from supportbus_ticketer.declaration import CREATED, RETRIEVED, SERVICE
from supportbus_ticketer.service import TicketService

__all__ = ["SERVICE", "routes"]


def routes(service: TicketService) -> list[Route[KnowledgeRetrieved]]:
    async def on_knowledge_retrieved(event: KnowledgeRetrieved) -> Sequence[Publication]:
        ticket = await service.open_ticket(event.request_id, event.request, event.classification)
        created = TicketCreated.derived_from(
            event,
            producer=SERVICE,
            # When the ticket was opened: the helpdesk returns the same ticket, created_at
            # included, for a repeated Idempotency-Key. Without one, the cause's time is kept.
            occurred_at=ticket.created_at,
            request=event.request,
            classification=event.classification,
            articles=event.articles,
            ticket=ticket,
        )
        return [CREATED.publish(created)]

    return [RETRIEVED.handled_by(on_knowledge_retrieved)]
