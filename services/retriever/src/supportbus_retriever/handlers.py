"""Adapters from events to the retrieval service, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import KnowledgeRetrieved, RequestClassified
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, REQUEST_CLASSIFIED
from supportbus_retriever.service import RetrievalService
from supportbus_runtime.app import Route
from supportbus_runtime.delivery import Publication

SERVICE = "retriever"


def routes(service: RetrievalService) -> list[Route[RequestClassified]]:
    async def on_request_classified(event: RequestClassified) -> Sequence[Publication]:
        articles = service.retrieve(event.request, event.classification)
        retrieved = KnowledgeRetrieved.derived_from(
            event,
            producer=SERVICE,
            request=event.request,
            classification=event.classification,
            articles=articles,
        )
        return [Publication(KNOWLEDGE_RETRIEVED, retrieved)]

    return [Route(REQUEST_CLASSIFIED, RequestClassified, on_request_classified)]
