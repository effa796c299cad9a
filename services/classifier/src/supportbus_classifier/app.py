"""Composition root of the classifier."""

from __future__ import annotations

from supportbus_classifier.handlers import SERVICE, confidence_histogram, routes
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.ports import IntentModel
from supportbus_classifier.service import ClassificationService
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_contracts import RequestClassified
from supportbus_contracts.topics import REQUEST_CLASSIFIED
from supportbus_runtime.app import Output, ServiceApp, build_service_app
from supportbus_runtime.embedding import MiniLMEmbedder
from supportbus_runtime.metrics import DeliveryMetrics


def build_app(settings: ClassifierSettings, *, model: IntentModel | None = None) -> ServiceApp:
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    if model is None:
        embedder = MiniLMEmbedder(
            settings.resolved_model_path(settings.shared_dir), threads=settings.embedding_threads
        )
        model = LinearIntentModel.load(settings.model_path, embedder=embedder, taxonomy=taxonomy)
        embedder.load()  # fail at start, not on the first request
    service = ClassificationService(model, taxonomy)
    metrics = DeliveryMetrics()
    return build_service_app(
        service=SERVICE,
        settings=settings,
        routes=routes(service, confidence_histogram(metrics.registry)),
        outputs=[Output(REQUEST_CLASSIFIED, RequestClassified)],
        metrics=metrics,
    )
