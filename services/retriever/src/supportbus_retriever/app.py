"""Composition root of the retriever."""

from __future__ import annotations

from supportbus_contracts import KnowledgeRetrieved
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED
from supportbus_retriever.handlers import SERVICE, routes
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.ports import KnowledgeIndex
from supportbus_retriever.service import RetrievalService
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.app import Output, ServiceApp, build_service_app
from supportbus_runtime.embedding import MiniLMEmbedder


def build_app(settings: RetrieverSettings, *, index: KnowledgeIndex | None = None) -> ServiceApp:
    if index is None:
        embedder = MiniLMEmbedder(
            settings.resolved_model_path(settings.shared_dir), threads=settings.embedding_threads
        )
        index = LlamaIndexKnowledgeIndex.load(
            settings.index_dir, embedder=embedder, kb_dir=settings.kb_dir
        )
    service = RetrievalService(
        index,
        top_k=settings.top_k,
        kb_base_url=settings.kb_base_url,
        intent_boost=settings.intent_boost,
        boost_min_confidence=settings.intent_boost_min_confidence,
    )
    return build_service_app(
        service=SERVICE,
        settings=settings,
        routes=routes(service),
        outputs=[Output(KNOWLEDGE_RETRIEVED, KnowledgeRetrieved)],
    )
