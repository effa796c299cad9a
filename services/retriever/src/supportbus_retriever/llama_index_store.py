"""The embedded default vector store: LlamaIndex's local, persisted SimpleVectorStore.

Chunking, embedding and folding chunk hits per article are shared with the other stores
(:mod:`supportbus_retriever.chunking`).

LlamaIndex builds and persists the index; searching goes through a matrix of its stored chunk
vectors instead of SimpleVectorStore's query, which is plain Python over every chunk (about 17 ms
for the 360 chunks of data/kb, holding the GIL: one retriever process could not pass ~58
searches a second). The same exact cosine ranking is one numpy product, well under a millisecond,
run on a thread of its own so the loop never waits on it. The matrix is persisted with the index
(:mod:`supportbus_retriever.snapshot`), so serving loads it without importing LlamaIndex.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opentelemetry.trace import Span

from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.hits import CHUNKS_PER_ARTICLE, best_per_article, chunk_hit
from supportbus_retriever.kb import digest, load_articles
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.snapshot import ChunkSnapshot
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

MANIFEST = "supportbus-manifest.json"
INDEX_FORMAT = 2  # 2: with the serving snapshot
_REBUILD_HINT = "run `supportbus index build` to (re)create it"


class LlamaIndexKnowledgeIndex:
    def __init__(self, chunks: ChunkSnapshot, embedder: TextEmbedder) -> None:
        self._embedder = embedder
        self._executor: ThreadPoolExecutor | None = None  # started by the first async search
        self._chunks = chunks

    @property
    def embedder(self) -> TextEmbedder:
        return self._embedder

    @classmethod
    def build(
        cls, kb_dir: Path, index_dir: Path, *, embedder: TextEmbedder
    ) -> LlamaIndexKnowledgeIndex:
        from llama_index.core import VectorStoreIndex

        from supportbus_retriever.chunking import LlamaEmbeddingAdapter, chunk_articles

        articles = load_articles(kb_dir)
        nodes = chunk_articles(articles)
        index = VectorStoreIndex(nodes, embed_model=LlamaEmbeddingAdapter(embedder))
        index_dir.mkdir(parents=True, exist_ok=True)
        index.storage_context.persist(persist_dir=str(index_dir))
        embeddings: dict[str, list[float]] = index.vector_store.to_dict()["embedding_dict"]
        hits = {
            n.node_id: chunk_hit(n.metadata, n.get_content(), 0.0)
            for n in index.docstore.get_nodes(sorted(embeddings))
        }
        chunks = ChunkSnapshot.of(embeddings, hits)
        chunks.save(index_dir)
        manifest = {
            "format": INDEX_FORMAT,
            "kb_digest": digest(articles),
            "embedding_model": embedder.name,
            "articles": len(articles),
            "chunks": len(nodes),
        }
        (index_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
        log.info("indexed %d articles as %d chunks into %s", len(articles), len(nodes), index_dir)
        return cls(chunks, embedder)

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
        try:
            chunks = ChunkSnapshot.load(index_dir)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise IndexUnavailable(
                f"knowledge index {index_dir} is unreadable ({error}); {_REBUILD_HINT}"
            ) from error
        if len(chunks) != manifest.get("chunks"):
            raise IndexUnavailable(
                f"knowledge index {index_dir} holds {len(chunks)} chunks, its manifest says "
                f"{manifest.get('chunks')}; {_REBUILD_HINT}"
            )
        return cls(chunks, embedder)

    def search(self, query: str, k: int) -> list[ArticleHit]:
        vector = self._embedder.embed([query])[0].tolist()
        with _tracer.start_as_current_span("vector_search") as span:
            return self._search(span, query, vector, k)

    async def search_by_vector(
        self, query: str, vector: Sequence[float], k: int
    ) -> list[ArticleHit]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-search")
        with _tracer.start_as_current_span("vector_search") as span:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._search, span, query, list(vector), k
            )

    def _search(self, span: Span, query: str, vector: list[float], k: int) -> list[ArticleHit]:
        span.set_attribute("supportbus.vector_store", "llama-index-simple")
        span.set_attribute("supportbus.k", k)
        hits = self._chunks.top(vector, k * CHUNKS_PER_ARTICLE)
        span.set_attribute("supportbus.chunks", len(hits))
        return best_per_article(hits, k)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
