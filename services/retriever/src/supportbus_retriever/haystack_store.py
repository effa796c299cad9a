"""``RETRIEVER_STORE=haystack``: the knowledge base in a Haystack 2.x pipeline, held in memory.

At start the articles are chunked as the local store chunks them, embedded with MiniLM through
fastembed's Haystack integration (FastembedDocumentEmbedder) and written to an
InMemoryDocumentStore (:mod:`supportbus_retriever.haystack_pipeline`); nothing is persisted, so
there is no index to build or to go stale. A search runs a pipeline of an
InMemoryEmbeddingRetriever and an InMemoryBM25Retriever joined by a DocumentJoiner in
weighted reciprocal rank fusion (``fused``, the default), or one retriever alone (``vector``,
``lexical``). ``search`` (the CLI's evaluation) embeds the query with a FastembedTextEmbedder;
the service embeds with its own embedder (the same fastembed model: the vectors are equal) or
reuses the classifier's vector, and ``search_by_vector`` runs the pipeline on a thread of the
store's own, so the event loop never waits on Haystack.

Hits are the other stores' shape: chunks folded to the best per article, title and snippet
from that article's section. Fused places keep the cosine the vector side has at that place,
as the local store's do, so the intent lift (a cosine margin) means the same here. Question
expansion (``RETRIEVER_EXPANSION``) is the local store's; this store indexes the articles alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span

from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.haystack_pipeline import (
    DENSE,
    HAYSTACK_MODES,
    RESULTS,
    FastembedModel,
    HaystackFusion,
    HaystackMode,
    chunk_documents,
    indexed_store,
    pipeline_inputs,
    require_haystack,
    search_pipeline,
    text_embedder,
)
from supportbus_retriever.hits import CHUNKS_PER_ARTICLE, best_per_article, chunk_hit
from supportbus_retriever.kb import load_articles
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.search_thread import SearchThread
from supportbus_runtime.embedding import EMBEDDING_DIM, TextEmbedder
from supportbus_runtime.settings import MINILM_MODEL_NAME
from supportbus_runtime.telemetry import tracer

if TYPE_CHECKING:
    from haystack import Document
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.fastembed import FastembedTextEmbedder

__all__ = ["HAYSTACK_MODES", "HaystackFusion", "HaystackKnowledgeIndex", "HaystackMode"]

log = logging.getLogger(__name__)
_tracer = tracer(__name__)


class HaystackKnowledgeIndex:
    """``KnowledgeIndex`` on a Haystack pipeline over an in-memory document store."""

    def __init__(
        self,
        store: InMemoryDocumentStore,
        embedder: TextEmbedder,
        model: FastembedModel,
        *,
        mode: HaystackMode = "fused",
        fusion: HaystackFusion | None = None,
    ) -> None:
        if mode not in HAYSTACK_MODES:
            raise ValueError(
                f"the haystack store searches {'|'.join(HAYSTACK_MODES)}, not {mode!r}"
            )
        self._store = store
        self._embedder = embedder
        self._model = model
        self.mode: HaystackMode = mode
        self._fusion = fusion or HaystackFusion()
        self._pipeline = search_pipeline(store, mode, self._fusion)
        self._query_embedder: FastembedTextEmbedder | None = None  # made by the first search
        self._thread = SearchThread("haystack")

    @classmethod
    def build(
        cls,
        kb_dir: Path,
        *,
        embedder: TextEmbedder,
        model_path: Path | None,
        threads: int | None = None,
        mode: HaystackMode = "fused",
        fusion: HaystackFusion | None = None,
    ) -> HaystackKnowledgeIndex:
        """Chunk, embed and index the articles in ``kb_dir``. ``embedder`` embeds the
        service's queries and must be the MiniLM the documents are embedded with (from
        ``model_path``; None: fastembed downloads it). StoreExtraMissing without the extra."""
        require_haystack()
        if embedder.name != MINILM_MODEL_NAME or embedder.dimension != EMBEDDING_DIM:
            raise IndexUnavailable(
                f"the haystack store embeds its documents with {MINILM_MODEL_NAME}; queries "
                f"embedded with {embedder.name} would not be comparable with them"
            )
        articles = load_articles(kb_dir)
        documents = chunk_documents(articles)
        model = FastembedModel(model_path, threads)
        store = indexed_store(documents, model)
        log.info(
            "haystack store: %d articles as %d chunks in memory", len(articles), len(documents)
        )
        return cls(store, embedder, model, mode=mode, fusion=fusion)

    def with_mode(self, mode: HaystackMode) -> HaystackKnowledgeIndex:
        """The same documents searched another way (the evaluation compares them)."""
        return HaystackKnowledgeIndex(
            self._store, self._embedder, self._model, mode=mode, fusion=self._fusion
        )

    @property
    def embedder(self) -> TextEmbedder:
        return self._embedder

    @property
    def chunks(self) -> int:
        return int(self._store.count_documents())

    def search(self, query: str, k: int) -> list[ArticleHit]:
        vector = None
        if self.mode != "lexical":  # BM25 alone needs no embedding
            if self._query_embedder is None:
                self._query_embedder = text_embedder(self._model)
                self._query_embedder.warm_up()
            vector = self._query_embedder.run(query)["embedding"]
        with _tracer.start_as_current_span("vector_search") as span:
            return self._search(span, query, vector, k)

    async def search_by_vector(
        self, query: str, vector: Sequence[float], k: int
    ) -> list[ArticleHit]:
        floats = [float(x) for x in vector]  # the retriever takes a list of floats only
        with _tracer.start_as_current_span("vector_search") as span:
            return await self._thread.run(self._search, span, query, floats, k)

    def _search(
        self, span: Span, query: str, vector: list[float] | None, k: int
    ) -> list[ArticleHit]:
        span.set_attribute("supportbus.vector_store", "haystack-in-memory")
        span.set_attribute("supportbus.search_mode", self.mode)
        span.set_attribute("supportbus.k", k)
        depth = max(self._fusion.depth, k * CHUNKS_PER_ARTICLE)
        inputs = pipeline_inputs(self._pipeline, query, vector, depth)
        outputs: dict[str, Any] = self._pipeline.run(
            inputs, include_outputs_from={DENSE} if self.mode == "fused" else None
        )
        found = _hits(outputs[RESULTS[self.mode]]["documents"])
        span.set_attribute("supportbus.chunks", len(found))
        ranked = best_per_article(found, k)
        if self.mode != "fused":
            return ranked
        return place_scores(ranked, best_per_article(_hits(outputs[DENSE]["documents"]), k))

    def close(self) -> None:
        self._thread.close()


def _hits(documents: Iterable[Document]) -> list[ArticleHit]:
    return [chunk_hit(d.meta, d.content or "", float(d.score or 0.0)) for d in documents]


def place_scores(ranked: Sequence[ArticleHit], scale: Sequence[ArticleHit]) -> list[ArticleHit]:
    """``ranked`` in its order, each place scored with the score ``scale`` (best first) has at
    that place; places past its end get its last score (0 if it is empty)."""
    floor = scale[-1].score if scale else 0.0
    return [
        replace(hit, score=scale[place].score if place < len(scale) else floor)
        for place, hit in enumerate(ranked)
    ]
