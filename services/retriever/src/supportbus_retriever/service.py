"""Choosing the articles that answer a classified request.

Everything slow runs off the event loop: the query is embedded by a micro-batcher (the texts of
concurrent records in one model call, on a worker thread) and the vector store searches on its
own threads. When the classifier already sent the request's embedding from the same model, it
is used as is and nothing is embedded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from supportbus_contracts import Article, Classification, QueryEmbedding, SupportRequest
from supportbus_retriever.ports import ArticleHit, KnowledgeIndex
from supportbus_runtime.batching import MicroBatcher
from supportbus_runtime.telemetry import record_span, tracer

_tracer = tracer(__name__)

# Look further than k, so an intent-tagged article just below the cut can be promoted.
_CANDIDATE_FACTOR = 3


class RetrievalService:
    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        top_k: int,
        kb_base_url: str,
        intent_boost: float = 0.0,
        boost_min_confidence: float = 0.5,
        batch_max: int = 32,
        batch_wait_ms: float = 2.0,
    ) -> None:
        self._index = index
        self._top_k = top_k
        self._base_url = kb_base_url.rstrip("/")
        self._boost = intent_boost
        self._boost_min_confidence = boost_min_confidence
        self._embedder = index.embedder
        self._batcher: MicroBatcher[str, list[float]] = MicroBatcher(
            self._embed,
            batch_max=batch_max,
            batch_wait_ms=batch_wait_ms,
            name="retriever-embed",
        )

    async def retrieve(
        self,
        request: SupportRequest,
        classification: Classification,
        query_embedding: QueryEmbedding | None = None,
    ) -> list[Article]:
        query = request.query_text()
        vector = await self._query_vector(query, query_embedding)
        hits = await self._index.search_by_vector(query, vector, self._top_k * _CANDIDATE_FACTOR)
        if self._boost and classification.confidence >= self._boost_min_confidence:
            # The classifier already read the request; articles written for its intent get a lift.
            hits = [
                replace(h, score=h.score + self._boost) if classification.intent in h.intents else h
                for h in hits
            ]
            hits.sort(key=lambda h: h.score, reverse=True)
        return [self._to_contract(hit) for hit in hits[: self._top_k]]

    async def aclose(self) -> None:
        await self._batcher.aclose()

    async def _query_vector(self, query: str, offered: QueryEmbedding | None) -> Sequence[float]:
        model = self._embedder.name
        # Only a vector of our own model, of our length, lands where the index's vectors do.
        if (
            offered is not None
            and offered.model == model
            and len(offered.vector) == self._embedder.dimension
        ):
            # Recorded all the same, so the trace says where this request's vector came from.
            with _tracer.start_as_current_span("embed") as span:
                span.set_attributes(
                    {"supportbus.embedding_model": model, "supportbus.embedding_reused": True}
                )
            return offered.vector
        batched = await self._batcher.submit_batched(query)
        attributes: dict[str, str | int | bool] = {
            "supportbus.embedding_model": model,
            "supportbus.embedding_reused": False,
            "supportbus.batch_size": batched.size,
        }
        if offered is not None:
            attributes["supportbus.offered_embedding_model"] = offered.model
        record_span(
            _tracer,
            "embed",
            start_ns=batched.started_ns,
            end_ns=batched.finished_ns,
            attributes=attributes,
        )
        return batched.value

    def _embed(self, queries: Sequence[str]) -> list[list[float]]:
        """One batch, on the batcher's worker thread."""
        return self._embedder.embed(queries).tolist()  # type: ignore[no-any-return]

    def _to_contract(self, hit: ArticleHit) -> Article:
        return Article(
            article_id=hit.article_id,
            title=hit.title,
            snippet=hit.snippet,
            score=round(hit.score, 4),
            url=f"{self._base_url}/{hit.article_id}",
        )
