"""Composition root of the classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportbus_classifier.declaration import DECLARATION
from supportbus_classifier.errors import TaxonomyError
from supportbus_classifier.handlers import confidence_histogram, handoff_counter, routes
from supportbus_classifier.handoff import HandoffPolicy
from supportbus_classifier.linear_model import LinearIntentModel
from supportbus_classifier.ports import Classifier, IntentModel
from supportbus_classifier.service import ClassificationService
from supportbus_classifier.settings import ClassifierSettings
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_runtime.embedding import MiniLMEmbedder
from supportbus_runtime.kit import DeliveryMetrics, ServiceApp, build_service_app
from supportbus_runtime.llm.metrics import LlmMetrics

if TYPE_CHECKING:  # the LLM stack (aiohttp, tiktoken) is imported only when configured
    from supportbus_runtime.llm import LlmClient


def build_app(settings: ClassifierSettings, *, model: IntentModel | None = None) -> ServiceApp:
    taxonomy = Taxonomy.load(settings.taxonomy_path)
    if model is None:
        embedder = MiniLMEmbedder(
            settings.resolved_model_path(settings.shared_dir), threads=settings.embedding_threads
        )
        model = LinearIntentModel.load(settings.model_path, embedder=embedder, taxonomy=taxonomy)
        embedder.load()  # fail at start, not on the first request
    metrics = DeliveryMetrics()
    local = ClassificationService(
        model, taxonomy, batch_max=settings.batch_max, batch_wait_ms=settings.batch_wait_ms
    )
    client = _llm_client(settings, LlmMetrics(metrics.registry))
    service = build_classifier(settings, local, taxonomy, client=client)
    return build_service_app(
        DECLARATION,
        settings,
        routes(
            service,
            handoff_policy(settings, taxonomy),
            confidence_histogram(metrics.registry),
            handoff_counter(metrics.registry),
        ),
        metrics=metrics,
        # The batching worker, then the LLM connection pool.
        closing=[local.aclose, client.aclose if client else None],
    )


def _llm_client(settings: ClassifierSettings, metrics: LlmMetrics) -> LlmClient | None:
    if settings.provider == "local":
        return None
    from supportbus_runtime.llm import LlmClient

    return LlmClient(settings, metrics=metrics)


def handoff_policy(settings: ClassifierSettings, taxonomy: Taxonomy) -> HandoffPolicy:
    unknown = sorted(set(settings.handoff_intents) - set(taxonomy.intents))
    if unknown:
        raise TaxonomyError(
            f"CLASSIFIER_HANDOFF_INTENTS names intents not in the taxonomy: {unknown}"
        )
    marked = {name for name, info in taxonomy.intents.items() if info.human}
    return HandoffPolicy(
        confidence_below=settings.handoff_confidence_below,
        always_human_intents=frozenset(settings.handoff_intents) | marked,
        on_customer_request=settings.handoff_on_customer_request,
    )


def build_classifier(
    settings: ClassifierSettings,
    local: ClassificationService,
    taxonomy: Taxonomy,
    *,
    client: LlmClient | None = None,
    llm_metrics: LlmMetrics | None = None,
) -> Classifier:
    """The provider the settings pick: the local model, or the LLM (always or below the
    hybrid threshold) with the local model as its fallback."""
    if settings.provider == "local":
        return local
    from supportbus_classifier.llm_classifier import LlmClassificationService
    from supportbus_runtime.llm import LlmClient

    return LlmClassificationService(
        local,
        taxonomy,
        client or LlmClient(settings, metrics=llm_metrics),
        mode=settings.provider,
        hybrid_threshold=settings.hybrid_threshold,
        allow_pii=settings.allow_pii_to_llm,
        max_input_chars=settings.llm_max_input_chars,
    )
