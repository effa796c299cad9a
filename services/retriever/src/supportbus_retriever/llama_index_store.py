"""The embedded default vector store: LlamaIndex's local, persisted SimpleVectorStore.

Chunking, embedding and folding chunk hits per article are shared with the other stores
(:mod:`supportbus_retriever.chunking`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from llama_index.core import StorageContext, VectorStoreIndex, load_index_from_storage

from supportbus_retriever.chunking import (
    CHUNKS_PER_ARTICLE,
    LlamaEmbeddingAdapter,
    best_per_article,
    chunk_articles,
    chunk_hit,
)
from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.kb import digest, load_articles
from supportbus_retriever.ports import ArticleHit
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

MANIFEST = "supportbus-manifest.json"
INDEX_FORMAT = 1
_REBUILD_HINT = "run `supportbus index build` to (re)create it"


class LlamaIndexKnowledgeIndex:
    def __init__(self, index: VectorStoreIndex) -> None:
        self._index = index

    @classmethod
    def build(
        cls, kb_dir: Path, index_dir: Path, *, embedder: TextEmbedder
    ) -> LlamaIndexKnowledgeIndex:
        articles = load_articles(kb_dir)
        nodes = chunk_articles(articles)
        index = VectorStoreIndex(nodes, embed_model=LlamaEmbeddingAdapter(embedder))
        index_dir.mkdir(parents=True, exist_ok=True)
        index.storage_context.persist(persist_dir=str(index_dir))
        manifest = {
            "format": INDEX_FORMAT,
            "kb_digest": digest(articles),
            "embedding_model": embedder.name,
            "articles": len(articles),
            "chunks": len(nodes),
        }
        (index_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
        log.info("indexed %d articles as %d chunks into %s", len(articles), len(nodes), index_dir)
        return cls(index)

    @classmethod
    def load(
        cls, index_dir: Path, *, embedder: TextEmbedder, kb_dir: Path | None = None
    ) -> LlamaIndexKnowledgeIndex:
        manifest_path = index_dir / MANIFEST
        if not manifest_path.is_file():
            raise IndexUnavailable(f"no knowledge index in {index_dir}: {_REBUILD_HINT}")
        manifest = json.loads(manifest_path.read_text())
        problems = []
        if manifest.get("format") != INDEX_FORMAT:
            problems.append("index format changed")
        if manifest.get("embedding_model") != embedder.name:
            problems.append(f"built with {manifest.get('embedding_model')}, not {embedder.name}")
        if kb_dir is not None and manifest.get("kb_digest") != digest(load_articles(kb_dir)):
            problems.append(f"the articles in {kb_dir} changed since it was built")
        if problems:
            raise IndexUnavailable(
                f"knowledge index {index_dir} is stale: {'; '.join(problems)}; {_REBUILD_HINT}"
            )
        storage = StorageContext.from_defaults(persist_dir=str(index_dir))
        index = load_index_from_storage(storage, embed_model=LlamaEmbeddingAdapter(embedder))
        assert isinstance(index, VectorStoreIndex)
        return cls(index)

    def search(self, query: str, k: int) -> list[ArticleHit]:
        with _tracer.start_as_current_span("vector_search") as span:
            span.set_attribute("supportbus.vector_store", "llama-index-simple")
            span.set_attribute("supportbus.k", k)
            retriever = self._index.as_retriever(similarity_top_k=k * CHUNKS_PER_ARTICLE)
            nodes = retriever.retrieve(query)
            span.set_attribute("supportbus.chunks", len(nodes))
        return best_per_article(
            (
                chunk_hit(
                    scored.node.metadata, scored.node.get_content(), float(scored.score or 0.0)
                )
                for scored in nodes
            ),
            k,
        )
