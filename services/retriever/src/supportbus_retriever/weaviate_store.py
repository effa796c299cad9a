"""The retriever's knowledge index on a Weaviate server (weaviate-client v4), with hybrid search.

Vectors are the same MiniLM embeddings as the local store, computed here (the collection has no
vectorizer), from the same chunks (:mod:`supportbus_retriever.chunking`). Chunks are written as
LlamaIndex's Weaviate integration serialises nodes (so the collection is also readable as a
LlamaIndex ``WeaviateVectorStore``), with ``insert_many`` as its async ``add`` does: its sync
``add`` opens a dynamic batch per call that costs about a second in flush polling and drops
failed objects silently. Queries use the client directly, because LlamaIndex's query path turns
every query error into ``ValueError`` (we must tell "unreachable, retry" from "rejected"), runs
its "vector" mode as hybrid with alpha 1 (fused, rank-normalised scores instead of cosine
similarity, which would change what the intent boost means), fetches every hit's vector, and
runs BM25 over all text properties, including its JSON blob of node internals.

Ingest is idempotent: every chunk has a deterministic UUID (article id + section number) and a
content hash; re-running writes only new or changed chunks and deletes chunks whose article
shrank or went away.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import weaviate
from llama_index.core.schema import BaseNode, MetadataMode, NodeRelationship
from llama_index.vector_stores.weaviate.utils import get_data_object
from opentelemetry.trace import Span
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.init import AdditionalConfig, Timeout
from weaviate.classes.query import Filter, HybridFusion, MetadataQuery
from weaviate.collections import Collection
from weaviate.collections.classes.internal import QueryReturn
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateClosedClientError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateQueryError,
    WeaviateRetryError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)

from supportbus_retriever.chunking import LlamaEmbeddingAdapter, chunk_articles
from supportbus_retriever.errors import (
    IndexUnavailable,
    RetrieverError,
    VectorStoreQueryFailed,
    VectorStoreUnavailable,
)
from supportbus_retriever.hits import CHUNKS_PER_ARTICLE, best_per_article, chunk_hit
from supportbus_retriever.kb import KbArticle
from supportbus_retriever.ports import ArticleHit
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

SearchMode = Literal["vector", "hybrid"]
INGEST_HINT = "run `supportbus kb ingest --store weaviate`"
# Fixed forever: chunk UUIDs derive from it, so changing it would duplicate every chunk.
_CHUNK_NAMESPACE = uuid.UUID("6f1d7c1e-3b7a-5c53-9d0e-6b2f5a4c8e11")
_BM25_PROPERTIES = ["title", "text"]
_HIT_PROPERTIES = ["article_id", "title", "intents", "text"]
_WRITE_BATCH = 64
# A gRPC status in an error message that says "the server was not there", not "it said no".
_TRANSIENT_GRPC = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "connection refused")


def chunk_uuid(article_id: str, index: int) -> str:
    """The same chunk of the same article always gets the same object id."""
    return str(uuid.uuid5(_CHUNK_NAMESPACE, f"{article_id}#{index}"))


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did, in chunks (and which articles it touched)."""

    articles: int
    chunks: int
    added: int
    updated: int
    deleted: int
    unchanged: int
    changed_articles: tuple[str, ...] = field(default=())


def _text(name: str, *, searchable: bool = False, field_tokens: bool = True) -> Property:
    return Property(
        name=name,
        data_type=DataType.TEXT,
        index_searchable=searchable,
        index_filterable=not searchable,
        tokenization=Tokenization.FIELD if field_tokens else Tokenization.WORD,
        skip_vectorization=True,
    )


def _schema() -> list[Property]:
    """Every property a chunk object has, declared, so the collection works with auto-schema
    off and BM25 only sees prose (title and section text), never ids or LlamaIndex's JSON."""
    return [
        _text("text", searchable=True, field_tokens=False),
        _text("title", searchable=True, field_tokens=False),
        _text("article_id"),
        _text("intents"),
        _text("header_path"),
        Property(name="chunk_index", data_type=DataType.INT, skip_vectorization=True),
        _text("content_hash"),
        _text("embedding_model"),
        # LlamaIndex's node serialisation (llama_index.vector_stores.weaviate get_data_object).
        Property(
            name="_node_content",
            data_type=DataType.TEXT,
            index_filterable=False,
            index_searchable=False,
            skip_vectorization=True,
        ),
        _text("_node_type"),
        _text("document_id"),
        _text("doc_id"),
        _text("ref_doc_id"),
    ]


def _endpoint(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IndexUnavailable(f"Weaviate URL must be http(s)://host[:port], not {url!r}")
    secure = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if secure else 80), secure


def connect(
    url: str, grpc_port: int, *, api_key: str | None = None, timeout_s: float = 10.0
) -> weaviate.WeaviateClient:
    """A connected client (REST at ``url``, gRPC on the same host), or IndexUnavailable saying
    which server could not be reached."""
    host, port, secure = _endpoint(url)
    try:
        client = weaviate.connect_to_custom(
            http_host=host,
            http_port=port,
            http_secure=secure,
            grpc_host=host,
            grpc_port=grpc_port,
            grpc_secure=secure,
            auth_credentials=api_key or None,
            additional_config=AdditionalConfig(
                timeout=Timeout(init=timeout_s, query=timeout_s, insert=max(timeout_s, 60))
            ),
            # The client's own init checks include a version lookup on pypi.org: a service must
            # not call out to the internet. It still reads /v1/meta; we probe gRPC ourselves.
            skip_init_checks=True,
        )
    except WeaviateBaseError as error:
        raise IndexUnavailable(
            f"cannot connect to Weaviate at {url} (gRPC port {grpc_port}): {_first_line(error)}"
        ) from error
    try:
        socket.create_connection((host, grpc_port), timeout=timeout_s).close()
    except OSError as error:
        client.close()
        raise IndexUnavailable(
            f"Weaviate at {url} answers, but not its gRPC port {host}:{grpc_port} "
            f"(RETRIEVER_WEAVIATE_GRPC_PORT): {error}"
        ) from error
    return client


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _query_error(error: WeaviateBaseError, collection: str) -> RetrieverError:
    """Unreachable (retry later) or rejected (retrying cannot help)."""
    if isinstance(
        error,
        WeaviateConnectionError
        | WeaviateGRPCUnavailableError
        | WeaviateTimeoutError
        | WeaviateRetryError
        | WeaviateClosedClientError
        | WeaviateStartUpError,
    ):
        return VectorStoreUnavailable(f"Weaviate unavailable: {_first_line(error)}")
    if isinstance(error, UnexpectedStatusCodeError) and (
        error.status_code >= 500 or error.status_code == 429
    ):
        return VectorStoreUnavailable(f"Weaviate answered {error.status_code}")
    if isinstance(error, WeaviateQueryError) and any(t in str(error) for t in _TRANSIENT_GRPC):
        return VectorStoreUnavailable(f"Weaviate unavailable: {_first_line(error)}")
    return VectorStoreQueryFailed(
        f"Weaviate rejected the query on {collection}: {_first_line(error)}"
    )


class WeaviateKnowledgeIndex:
    """``KnowledgeIndex`` on one Weaviate collection; owns (and closes) its client."""

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
        self._embed_model = LlamaEmbeddingAdapter(embedder)
        self.mode: SearchMode = mode
        self.alpha = alpha
        self._deadline_s = deadline_s
        self._queries = ThreadPoolExecutor(max_workers=2, thread_name_prefix="weaviate-query")

    @classmethod
    def connect(
        cls,
        *,
        url: str,
        grpc_port: int,
        collection: str,
        embedder: TextEmbedder,
        api_key: str | None = None,
        mode: SearchMode = "hybrid",
        alpha: float = 0.5,
        timeout_s: float = 10.0,
    ) -> WeaviateKnowledgeIndex:
        client = connect(url, grpc_port, api_key=api_key, timeout_s=timeout_s)
        return cls(
            client, collection, embedder=embedder, mode=mode, alpha=alpha, deadline_s=timeout_s
        )

    @property
    def _collection(self) -> Collection[Any, Any]:
        return self._client.collections.get(self.collection_name)

    # -- reading ---------------------------------------------------------------------------

    @property
    def embedder(self) -> TextEmbedder:
        return self._embedder

    def search(self, query: str, k: int) -> list[ArticleHit]:
        with _tracer.start_as_current_span("vector_search") as span:
            self._describe(span, k)
            vector = self._embed_model.get_query_embedding(query)
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
                raise _query_error(error, self.collection_name) from error
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
                raise _query_error(error, self.collection_name) from error
            span.set_attribute("supportbus.chunks", len(result.objects))
        return self._hits(result, k)

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

    def count(self) -> int:
        """Chunk objects in the collection (0 when it does not exist)."""
        try:
            if not self._client.collections.exists(self.collection_name):
                return 0
            return int(self._collection.aggregate.over_all(total_count=True).total_count or 0)
        except WeaviateBaseError as error:
            raise _query_error(error, self.collection_name) from error

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
            raise IndexUnavailable(f"{where} cannot be read: {_first_line(error)}") from error
        models = {str(o.properties.get("embedding_model")) for o in sample.objects}
        if models and models != {self._embedder.name}:
            raise IndexUnavailable(
                f"{where} was embedded with {', '.join(sorted(models))}, not "
                f"{self._embedder.name}: {INGEST_HINT} --recreate"
            )
        return count

    # -- writing ---------------------------------------------------------------------------

    def ensure_collection(self) -> None:
        """Create the collection (no vectorizer, cosine HNSW, declared properties) if missing."""
        if self._client.collections.exists(self.collection_name):
            return
        self._client.collections.create(
            self.collection_name,
            description="supportbus knowledge-base chunks (one object per article section)",
            vector_config=Configure.Vectors.self_provided(
                vector_index_config=Configure.VectorIndex.hnsw(
                    distance_metric=VectorDistances.COSINE
                )
            ),
            properties=_schema(),
        )

    def drop_collection(self) -> None:
        self._client.collections.delete(self.collection_name)

    def _existing(self) -> dict[str, tuple[str, str, str]]:
        """uuid -> (content hash, embedding model, article id) of every stored chunk."""
        return {
            str(obj.uuid): (
                str(obj.properties.get("content_hash") or ""),
                str(obj.properties.get("embedding_model") or ""),
                str(obj.properties.get("article_id") or ""),
            )
            for obj in self._collection.iterator(
                return_properties=["content_hash", "embedding_model", "article_id"]
            )
        }

    def _chunks(self, articles: list[KbArticle]) -> list[BaseNode]:
        """The shared chunks, with deterministic ids and a content hash each."""
        nodes = chunk_articles(articles)
        position: dict[str, int] = {}
        for node in nodes:
            article_id = str(node.metadata["article_id"])
            index = position[article_id] = position.get(article_id, -1) + 1
            node.id_ = chunk_uuid(article_id, index)
            # Prev/next links name the parser's random ids; only the article link is stable.
            node.relationships = {
                k: v for k, v in node.relationships.items() if k == NodeRelationship.SOURCE
            }
            node.metadata["chunk_index"] = index
            node.metadata["embedding_model"] = self._embedder.name
            node.excluded_embed_metadata_keys = [
                *node.excluded_embed_metadata_keys,
                "chunk_index",
                "embedding_model",
            ]
            node.excluded_llm_metadata_keys = [
                *node.excluded_llm_metadata_keys,
                "chunk_index",
                "embedding_model",
            ]
            node.metadata["content_hash"] = _content_hash(node, self._embedder.name)
            node.excluded_embed_metadata_keys.append("content_hash")
            node.excluded_llm_metadata_keys.append("content_hash")
        return nodes

    def ingest(
        self,
        articles: list[KbArticle],
        *,
        recreate: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> IngestReport:
        """Make the collection hold exactly ``articles``' chunks, writing only what changed.

        ``on_progress(done, total)`` follows the chunks being embedded and written.
        """
        try:
            return self._ingest(articles, recreate=recreate, on_progress=on_progress)
        except WeaviateBaseError as error:
            raise _query_error(error, self.collection_name) from error

    def _ingest(
        self,
        articles: list[KbArticle],
        *,
        recreate: bool,
        on_progress: Callable[[int, int], None] | None,
    ) -> IngestReport:
        if recreate and self._client.collections.exists(self.collection_name):
            self.drop_collection()
        self.ensure_collection()
        nodes = self._chunks(articles)
        existing = self._existing()
        foreign = {model for _, model, _ in existing.values()} - {self._embedder.name}
        if foreign:
            raise IndexUnavailable(
                f"Weaviate collection {self.collection_name!r} holds vectors from "
                f"{', '.join(sorted(foreign))}, not {self._embedder.name}; "
                f"{INGEST_HINT} --recreate"
            )
        wanted = {node.node_id for node in nodes}
        to_write = [
            n for n in nodes if existing.get(n.node_id, ("",))[0] != n.metadata["content_hash"]
        ]
        added = sum(1 for n in to_write if n.node_id not in existing)
        stale = sorted(set(existing) - wanted)
        changed = {str(n.metadata["article_id"]) for n in to_write}
        changed |= {existing[i][2] for i in stale}
        total = len(to_write)
        if on_progress is not None:
            on_progress(0, total)
        done = 0
        for batch in _batches(to_write, _WRITE_BATCH):
            texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in batch]
            for node, vector in zip(batch, self._embedder.embed(texts), strict=True):
                node.embedding = vector.tolist()
            # LlamaIndex's own node -> object serialisation (as its async add does), sent as
            # one synchronous gRPC batch: an upsert by UUID that reports each failed object.
            written = self._collection.data.insert_many(
                [get_data_object(node=node, text_key="text") for node in batch]
            )
            if written.has_errors:
                first = next(iter(written.errors.values()))
                raise VectorStoreQueryFailed(
                    f"Weaviate rejected {len(written.errors)} chunk(s) of "
                    f"{self.collection_name}: {first.message}"
                )
            done += len(batch)
            if on_progress is not None:
                on_progress(done, total)
        if stale:
            result = self._collection.data.delete_many(where=Filter.by_id().contains_any(stale))
            if result.failed:
                raise VectorStoreQueryFailed(
                    f"Weaviate could not delete {result.failed} stale chunk(s) of "
                    f"{self.collection_name}"
                )
        report = IngestReport(
            articles=len(articles),
            chunks=len(nodes),
            added=added,
            updated=len(to_write) - added,
            deleted=len(stale),
            unchanged=len(nodes) - len(to_write),
            changed_articles=tuple(sorted(changed)),
        )
        log.info("ingested into %s: %s", self.collection_name, report)
        return report

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._queries.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> WeaviateKnowledgeIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _content_hash(node: BaseNode, model: str) -> str:
    """Changes whenever what is embedded, shown or tagged changes (or the model does)."""
    meta = node.metadata
    payload = {
        "embedded": node.get_content(metadata_mode=MetadataMode.EMBED),
        "content": node.get_content(metadata_mode=MetadataMode.NONE),
        "article_id": meta["article_id"],
        "title": meta["title"],
        "intents": meta["intents"],
        "model": model,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _batches(nodes: list[BaseNode], size: int) -> Iterator[list[BaseNode]]:
    for start in range(0, len(nodes), size):
        yield nodes[start : start + size]
