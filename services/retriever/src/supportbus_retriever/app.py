"""Composition root of the retriever."""

from __future__ import annotations

import logging
from typing import Literal, cast

from supportbus_retriever.declaration import DECLARATION
from supportbus_retriever.handlers import routes
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex, LocalMode
from supportbus_retriever.ports import KnowledgeIndex
from supportbus_retriever.service import RetrievalService
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.embedding import MiniLMEmbedder, TextEmbedder
from supportbus_runtime.kit import ServiceApp, build_service_app

log = logging.getLogger(__name__)
WeaviateMode = Literal["vector", "hybrid"]


def build_index(settings: RetrieverSettings, embedder: TextEmbedder) -> KnowledgeIndex:
    """The configured store, checked usable now: a service without its knowledge refuses to
    start (IndexUnavailable) instead of failing on the first request, and so does a search
    mode its store does not have (ValueError)."""
    mode = settings.resolved_search_mode()
    if settings.store == "weaviate":
        from supportbus_retriever.weaviate_store import WeaviateKnowledgeIndex

        index = WeaviateKnowledgeIndex.connect(
            url=settings.weaviate_url,
            grpc_port=settings.weaviate_grpc_port,
            api_key=settings.weaviate_api_key_value(),
            collection=settings.weaviate_collection,
            embedder=embedder,
            mode=cast(WeaviateMode, mode),
            alpha=settings.hybrid_alpha,
            timeout_s=settings.weaviate_timeout_s,
        )
        try:
            chunks = index.check_ready()
        except BaseException:
            index.close()
            raise
        log.info(
            "knowledge index: Weaviate %s collection %s (%d chunks, %s search)",
            settings.weaviate_url,
            settings.weaviate_collection,
            chunks,
            mode,
        )
        return index
    if settings.store == "haystack":
        return _haystack_index(settings, embedder, mode)
    local = LlamaIndexKnowledgeIndex.load(
        settings.index_dir, embedder=embedder, kb_dir=settings.kb_dir, mode=cast(LocalMode, mode)
    )
    log.info("knowledge index: local %s (%s search)", settings.index_dir, mode)
    return local


def _haystack_index(
    settings: RetrieverSettings, embedder: TextEmbedder, mode: str
) -> KnowledgeIndex:
    """The articles indexed in memory now, by a Haystack pipeline (the retriever's haystack
    extra; without it StoreExtraMissing names the extra)."""
    from supportbus_retriever.haystack_store import HaystackKnowledgeIndex, HaystackMode

    index = HaystackKnowledgeIndex.build(
        settings.kb_dir,
        embedder=embedder,
        model_path=settings.resolved_model_path(settings.shared_dir),
        threads=settings.embedding_threads,
        mode=cast(HaystackMode, mode),
    )
    log.info(
        "knowledge index: haystack in memory, %s (%d chunks, %s search; question expansion is "
        "the local store's, not used)",
        settings.kb_dir,
        index.chunks,
        mode,
    )
    return index


def build_app(settings: RetrieverSettings, *, index: KnowledgeIndex | None = None) -> ServiceApp:
    owned = index is None
    if index is None:
        embedder = MiniLMEmbedder(
            settings.resolved_model_path(settings.shared_dir), threads=settings.embedding_threads
        )
        embedder.load()  # fail at start, not on the first request
        index = build_index(settings, embedder)
    service = RetrievalService(
        index,
        top_k=settings.top_k,
        kb_base_url=settings.kb_base_url,
        intent_boost=settings.intent_boost,
        boost_min_confidence=settings.intent_boost_min_confidence,
        batch_max=settings.batch_max,
        batch_wait_ms=settings.batch_wait_ms,
    )
    close = getattr(index, "close", None)
    return build_service_app(
        DECLARATION,
        settings,
        routes(service),
        # The batching worker, then the index we built (e.g. the Weaviate client's connections).
        closing=[service.aclose, close if owned and callable(close) else None],
    )
