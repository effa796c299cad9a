"""Adapters from events to the retrieval service, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import KnowledgeRetrieved, RequestClassified
from supportbus_retriever.declaration import CLASSIFIED, RETRIEVED, SERVICE
from supportbus_retriever.service import RetrievalService
from supportbus_runtime.kit import Publication, Route, tracer

__all__ = ["SERVICE", "routes"]

_tracer = tracer(__name__)


def routes(service: RetrievalService) -> list[Route[RequestClassified]]:
    async def on_request_classified(event: RequestClassified) -> Sequence[Publication]:
        with _tracer.start_as_current_span("retrieve_articles") as span:
            articles = await service.retrieve(
                event.request, event.classification, event.query_embedding
            )
            span.set_attribute("supportbus.articles", [a.article_id for a in articles])
            span.set_attribute("supportbus.scores", [a.score for a in articles])
        retrieved = KnowledgeRetrieved.derived_from(
            event,
            producer=SERVICE,
            request=event.request,
            classification=event.classification,
            articles=articles,
        )
        return [RETRIEVED.publish(retrieved)]

    return [CLASSIFIED.handled_by(on_request_classified)]
