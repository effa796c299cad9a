"""Adapters from events to the classification service, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from supportbus_classifier.declaration import CLASSIFIED, RECEIVED, SERVICE
from supportbus_classifier.handoff import HandoffPolicy
from supportbus_classifier.ports import Classifier
from supportbus_contracts import RequestClassified, RequestReceived
from supportbus_runtime.kit import Publication, Route, tracer

__all__ = ["SERVICE", "confidence_histogram", "handoff_counter", "routes"]

_tracer = tracer(__name__)


def confidence_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "supportbus_classifier_confidence",
        "Confidence of each classification",
        ["model"],
        registry=registry,
        buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
    )


def handoff_counter(registry: CollectorRegistry) -> Counter:
    return Counter(
        "supportbus_handoffs",
        "Requests routed to a person, by reason",
        ["reason"],
        registry=registry,
    )


def routes(
    service: Classifier, handoff: HandoffPolicy, confidence: Histogram, handoffs: Counter
) -> list[Route[RequestReceived]]:
    async def on_request_received(event: RequestReceived) -> Sequence[Publication]:
        with _tracer.start_as_current_span("classify") as span:
            decision = await service.decide(event.request)
            classification = handoff.route(event.request.query_text(), decision.classification)
            span.set_attributes(
                {
                    "supportbus.intent": classification.intent,
                    "supportbus.category": classification.category,
                    "supportbus.priority": classification.priority,
                    "supportbus.confidence": classification.confidence,
                    "supportbus.model": classification.model,
                    "supportbus.route": classification.route,
                }
            )
            if classification.fallback_reason:
                span.set_attribute("supportbus.fallback_reason", classification.fallback_reason)
        confidence.labels(model=classification.model).observe(classification.confidence)
        if classification.route_reason is not None:
            handoffs.labels(reason=classification.route_reason).inc()
        classified = RequestClassified.derived_from(
            event,
            producer=SERVICE,
            request=event.request,
            classification=classification,
            query_embedding=decision.query_embedding,
        )
        return [CLASSIFIED.publish(classified)]

    return [RECEIVED.handled_by(on_request_received)]
