"""Adapters from events to the reply composer, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import ResponseReady, TicketCreated
from supportbus_responder.declaration import CREATED, READY, SERVICE
from supportbus_responder.ports import ReplyComposer, ReplyInput
from supportbus_runtime.kit import Publication, Route, tracer

__all__ = ["SERVICE", "routes"]

_tracer = tracer(__name__)


def routes(composer: ReplyComposer) -> list[Route[TicketCreated]]:
    async def on_ticket_created(event: TicketCreated) -> Sequence[Publication]:
        with _tracer.start_as_current_span("compose_reply") as span:
            reply = await composer.compose(ReplyInput.of(event))
            span.set_attribute("supportbus.composer", reply.composer)
            span.set_attribute("supportbus.cited_articles", reply.cited_article_ids)
            if reply.fallback_reason:
                span.set_attribute("supportbus.fallback_reason", reply.fallback_reason)
        ready = ResponseReady.derived_from(
            event,
            producer=SERVICE,
            request=event.request,
            classification=event.classification,
            ticket=event.ticket,
            reply=reply.text,
            cited_article_ids=reply.cited_article_ids,
            composer=reply.composer,
            model=reply.model,
            tokens=reply.tokens,
            fallback_reason=reply.fallback_reason,
        )
        return [READY.publish(ready)]

    return [CREATED.handled_by(on_ticket_created)]
