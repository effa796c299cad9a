"""Adapters from events to the classification service, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_classifier.service import ClassificationService
from supportbus_contracts import RequestClassified, RequestReceived
from supportbus_contracts.topics import REQUEST_CLASSIFIED, REQUEST_RECEIVED
from supportbus_runtime.app import Route
from supportbus_runtime.delivery import Publication

SERVICE = "classifier"


def routes(service: ClassificationService) -> list[Route[RequestReceived]]:
    async def on_request_received(event: RequestReceived) -> Sequence[Publication]:
        classification = service.classify(event.request)
        classified = RequestClassified.derived_from(
            event, producer=SERVICE, request=event.request, classification=classification
        )
        return [Publication(REQUEST_CLASSIFIED, classified)]

    return [Route(REQUEST_RECEIVED, RequestReceived, on_request_received)]
