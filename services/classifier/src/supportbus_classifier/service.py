"""The classification decision: intent from the model; category and priority from the taxonomy.

Inside the service, classifications go through a micro-batcher (supportbus_runtime.batching):
the texts of concurrent records are embedded and scored in one model call on a worker thread,
never on the event loop. ``classify`` stays synchronous for the CLI's evaluation and training.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from supportbus_classifier.errors import ModelUnavailable
from supportbus_classifier.ports import (
    Decision,
    EmbeddingIntentModel,
    IntentModel,
    IntentPrediction,
)
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_contracts import Classification, QueryEmbedding, SupportRequest
from supportbus_runtime.batching import MicroBatcher
from supportbus_runtime.llm.system_instructions import strip_system_instructions
from supportbus_runtime.llm.unicode_safety import visible_text
from supportbus_runtime.telemetry import record_span, tracer

_tracer = tracer(__name__)

_SUMMARY_CHARS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
# Decimals kept of each embedding component on the wire: far below what changes a ranking,
# and about half the bytes of a float's full repr.
_EMBEDDING_DECIMALS = 6


def model_text(text: str) -> str:
    """What a classifier (local or LLM) reads of a customer's text: what a reader sees of it,
    without clauses addressed to the system ("classify this as …", "priority: urgent") or
    intent identifiers, so such instructions cannot steer it. The stored request keeps all."""
    return strip_system_instructions(visible_text(text))


def request_text(request: SupportRequest) -> str:
    """What the model reads: the subject (often the clearest line) and the body, through
    ``model_text``."""
    return model_text(request.query_text())


def summarise(request: SupportRequest, intent_description: str) -> str:
    """An extractive one-liner for agents: the customer's first sentence, or the subject."""
    first = _SENTENCE_END.split(" ".join(request.body.split()), maxsplit=1)[0]
    text = request.subject.strip() or first or intent_description
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class _Scored:
    """One text's share of a batch; ``embedded_ns`` is when the batch's embedding finished
    (None for a model that does not embed separately)."""

    prediction: IntentPrediction
    embedding: QueryEmbedding | None
    embedded_ns: int | None


class ClassificationService:
    def __init__(
        self,
        model: IntentModel,
        taxonomy: Taxonomy,
        *,
        batch_max: int = 32,
        batch_wait_ms: float = 2.0,
    ) -> None:
        missing = set(model.labels) - taxonomy.intents.keys()
        if missing:
            # At start-up (build_app): a ConfigurationError, so run_service refuses to start
            # with one line instead of a traceback.
            raise ModelUnavailable(
                f"the intent model knows intents the taxonomy lacks: {sorted(missing)}; "
                "retrain it (`supportbus train`) or declare them in the taxonomy"
            )
        self._model = model
        self._taxonomy = taxonomy
        self._batcher: MicroBatcher[str, _Scored] = MicroBatcher(
            self._infer,
            batch_max=batch_max,
            batch_wait_ms=batch_wait_ms,
            name="classifier-inference",
        )

    @property
    def batcher(self) -> MicroBatcher[str, _Scored]:
        """Its counters (batches, items) tell how well requests coalesce."""
        return self._batcher

    def classify(self, request: SupportRequest) -> Classification:
        """One request, on the calling thread (CLI evaluation, scripts)."""
        prediction = self._model.predict([request_text(request)])[0]
        return self._classification(request, prediction)

    async def classify_async(self, request: SupportRequest) -> Classification:
        return (await self.decide(request)).classification

    async def decide(self, request: SupportRequest) -> Decision:
        """Classify off the event loop, batched with concurrent requests; the spans of this
        request's share of the batch are recorded here, where its trace context is."""
        batched = await self._batcher.submit_batched(request_text(request))
        scored = batched.value
        inference_start = batched.started_ns
        if scored.embedded_ns is not None and scored.embedding is not None:
            record_span(
                _tracer,
                "embed",
                start_ns=batched.started_ns,
                end_ns=scored.embedded_ns,
                attributes={
                    "supportbus.embedding_model": scored.embedding.model,
                    "supportbus.batch_size": batched.size,
                },
            )
            inference_start = scored.embedded_ns
        record_span(
            _tracer,
            "model_inference",
            start_ns=inference_start,
            end_ns=batched.finished_ns,
            attributes={
                "supportbus.model": self._model.name,
                "supportbus.batch_size": batched.size,
            },
        )
        return Decision(self._classification(request, scored.prediction), scored.embedding)

    async def aclose(self) -> None:
        await self._batcher.aclose()

    def _infer(self, texts: Sequence[str]) -> list[_Scored]:
        """One batch, on the batcher's worker thread: one embedding call, then each text's
        features times the weights."""
        model = self._model
        if not isinstance(model, EmbeddingIntentModel):
            return [_Scored(p, None, None) for p in model.predict(texts)]
        vectors = model.embed(texts)
        embedded_ns = time.time_ns()
        # One product per row, not one for the batch: BLAS sums a (1, d) product in another
        # order than an (n, d) one, so a text's probabilities would move in the 7th digit with
        # the texts it happened to be batched with, and a redelivered record could get another
        # confidence (ONNX embeddings, by contrast, come out bit-identical in any batch). One
        # text's features times the weights costs well under a millisecond beside the embedding.
        predictions = [
            model.predict_embedded(texts[row : row + 1], vectors[row : row + 1])[0]
            for row in range(len(texts))
        ]
        # float64 first, so each rounded component prints as its 6 decimals, not float32 noise.
        rounded = np.round(vectors.astype(np.float64), _EMBEDDING_DECIMALS).tolist()
        return [
            _Scored(p, QueryEmbedding(model=model.embedding_model, vector=v), embedded_ns)
            for p, v in zip(predictions, rounded, strict=True)
        ]

    def _classification(
        self, request: SupportRequest, prediction: IntentPrediction
    ) -> Classification:
        info = self._taxonomy.info(prediction.intent)
        return Classification(
            category=info.category,
            intent=prediction.intent,
            priority=info.priority,
            confidence=round(min(max(prediction.confidence, 0.0), 1.0), 4),
            summary=summarise(request, info.description),
            model=self._model.name,
        )
