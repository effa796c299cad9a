"""The read side of the Weaviate store: what the retriever does with its collection while
serving (search, and the start check that the collection is there and usable).

Queries use the client directly, not LlamaIndex's query path: that one turns every query error
into ``ValueError`` (we must tell "unreachable, retry" from "rejected"), runs its "vector" mode
as hybrid with alpha 1 (fused, rank-normalised scores instead of cosine similarity, which would
change what the intent boost means), fetches every hit's vector, and runs BM25 over all text
properties, including its JSON blob of node internals.

Serving imports no LlamaIndex from here: the service hands in its own query vector
(:meth:`WeaviateSearcher.search_by_vector`); only the synchronous :meth:`WeaviateSearcher.search`
(CLI evaluation, scripts) embeds through LlamaIndex, and imports it on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import weaviate
from opentelemetry.trace import Span
from weaviate.classes.query import HybridFusion, MetadataQuery
from weaviate.collections import Collection
from weaviate.collections.classes.internal import QueryReturn
from weaviate.exceptions import WeaviateBaseError

from supportbus_retriever.errors import (
    IndexUnavailable,
    VectorStoreQueryFailed,
    VectorStoreUnavailable,
)
from supportbus_retriever.hits import CHUNKS_PER_ARTICLE, best_per_article, chunk_hit
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.weaviate_connection import INGEST_HINT, first_line, query_error
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import tracer

if TYPE_CHECKING:
    from supportbus_retriever.chunking import LlamaEmbeddingAdapter

# The spans keep the instrumentation scope they had before the store was split into modules.
_tracer = tracer("supportbus_retriever.weaviate_store")

SearchMode = Literal["vector", "hybrid"]
_BM25_PROPERTIES = ["title", "text"]
_HIT_PROPERTIES = ["article_id", "title", "intents", "text"]


class WeaviateSearcher:
    """Searches one Weaviate collection; owns (and closes) its client."""

    def __init__(
        self,
        client: weaviate.WeaviateClient,
        collection: str,
        *,
        embedder: TextEmbedder,
        mode: SearchMode = "hybrid",
        alpha: float = 0.5,
        deadline_s: float = 10.0,
    ) -> None:
        if mode not in ("vector", "hybrid"):
            raise ValueError(f"unknown search mode {mode!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"hybrid alpha must be within [0, 1], not {alpha}")
        self._client = client
        self.collection_name = collection
        self._embedder = embedder
        # Built on the first synchronous search: the serving path never needs LlamaIndex.
        self._embed_model: LlamaEmbeddingAdapter | None = None
        self.mode: SearchMode = mode
        self.alpha = alpha
        self._deadline_s = deadline_s
        self._queries = ThreadPoolExecutor(max_workers=2, thread_name_prefix="weaviate-query")

    @property
    def _collection(self) -> Collection[Any, Any]:
        return self._client.collections.get(self.collection_name)

    @property
    def embedder(self) -> TextEmbedder:
        return self._embedder

    # -- searching ---------------------------------------------------------------------------

    def search(self, query: str, k: int) -> list[ArticleHit]:
        with _tracer.start_as_current_span("vector_search") as span:
            self._describe(span, k)
            vector = self._query_embedding(query)
            # The client retries an unavailable gRPC server for ~63 s (1+2+...+32 s, fixed in
            # its code) before it raises; the consumer must not stall that long, and the
            # delivery policy retries transient errors itself. So each query has a deadline.
            future = self._queries.submit(self._query, query, vector, k * CHUNKS_PER_ARTICLE)
            try:
                result = future.result(timeout=self._deadline_s)
            except FutureTimeout as error:
                future.cancel()
                raise self._late() from error
            except WeaviateBaseError as error:
                raise query_error(error, self.collection_name) from error
            span.set_attribute("supportbus.chunks", len(result.objects))
        return self._hits(result, k)

    async def search_by_vector(
        self, query: str, vector: Sequence[float], k: int
    ) -> list[ArticleHit]:
        """The synchronous client's query on the store's own threads; the coroutine awaits
        it with the same deadline, blocking no thread while it waits."""
        with _tracer.start_as_current_span("vector_search") as span:
            self._describe(span, k)
            future = self._queries.submit(self._query, query, list(vector), k * CHUNKS_PER_ARTICLE)
            try:
                result = await asyncio.wait_for(asyncio.wrap_future(future), self._deadline_s)
            except TimeoutError as error:
                raise self._late() from error
            except WeaviateBaseError as error:
                raise query_error(error, self.collection_name) from error
            span.set_attribute("supportbus.chunks", len(result.objects))
        return self._hits(result, k)

    def _query_embedding(self, query: str) -> list[float]:
        if self._embed_model is None:
            # Deferred: importing LlamaIndex costs seconds, and only this path embeds with it.
            from supportbus_retriever.chunking import LlamaEmbeddingAdapter

            self._embed_model = LlamaEmbeddingAdapter(self._embedder)
        return self._embed_model.get_query_embedding(query)

    def _describe(self, span: Span, k: int) -> None:
        span.set_attribute("supportbus.vector_store", "weaviate")
        span.set_attribute("supportbus.search_mode", self.mode)
        span.set_attribute("supportbus.k", k)

    def _late(self) -> VectorStoreUnavailable:
        return VectorStoreUnavailable(f"Weaviate did not answer within {self._deadline_s:g} s")

    def _hits(self, result: QueryReturn[Any, Any], k: int) -> list[ArticleHit]:
        hits = []
        for obj in result.objects:
            props = obj.properties
            if self.mode == "hybrid":
                score = float(obj.metadata.score or 0.0)
            else:  # cosine distance -> cosine similarity, as the local store scores
                distance = obj.metadata.distance
                score = 1.0 - float(distance if distance is not None else 1.0)
            hits.append(chunk_hit(props, str(props.get("text") or ""), score))
        return best_per_article(hits, k)

    def _query(self, query: str, vector: list[float], limit: int) -> QueryReturn[Any, Any]:
        if self.mode == "hybrid":
            # Relative-score fusion keeps each side's score spread (not just its ranks).
            return self._collection.query.hybrid(
                query=query,
                vector=vector,
                alpha=self.alpha,
                limit=limit,
                query_properties=_BM25_PROPERTIES,
                fusion_type=HybridFusion.RELATIVE_SCORE,
                return_properties=_HIT_PROPERTIES,
                return_metadata=MetadataQuery(score=True),
            )
        return self._collection.query.near_vector(
            near_vector=vector,
            limit=limit,
            return_properties=_HIT_PROPERTIES,
            return_metadata=MetadataQuery(distance=True),
        )

    # -- the start check ---------------------------------------------------------------------

    def count(self) -> int:
        """Chunk objects in the collection (0 when it does not exist)."""
        try:
            if not self._client.collections.exists(self.collection_name):
                return 0
            return int(self._collection.aggregate.over_all(total_count=True).total_count or 0)
        except WeaviateBaseError as error:
            raise query_error(error, self.collection_name) from error

    def check_ready(self) -> int:
        """The service's start check: the collection exists, holds chunks, and they were
        embedded with our model. Returns the chunk count; raises IndexUnavailable otherwise."""
        where = f"Weaviate collection {self.collection_name!r}"
        try:
            if not self._client.collections.exists(self.collection_name):
                raise IndexUnavailable(f"{where} does not exist: {INGEST_HINT}")
            count = self.count()
            if count == 0:
                raise IndexUnavailable(f"{where} is empty: {INGEST_HINT}")
            sample = self._collection.query.fetch_objects(
                limit=1, return_properties=["embedding_model"]
            )
        except (WeaviateBaseError, VectorStoreUnavailable, VectorStoreQueryFailed) as error:
            raise IndexUnavailable(f"{where} cannot be read: {first_line(error)}") from error
        models = {str(o.properties.get("embedding_model")) for o in sample.objects}
        if models and models != {self._embedder.name}:
            raise IndexUnavailable(
                f"{where} was embedded with {', '.join(sorted(models))}, not "
                f"{self._embedder.name}: {INGEST_HINT} --recreate"
            )
        return count

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._queries.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
