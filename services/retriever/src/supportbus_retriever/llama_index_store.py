"""The embedded default vector store: LlamaIndex's local, persisted SimpleVectorStore.

Articles are split at their markdown sections (each well under MiniLM's 256-token window), the
article title is embedded with every section so a chunk never loses its topic, and hits are
folded per article (best section wins).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import MarkdownNodeParser
from pydantic import PrivateAttr

from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.kb import KbArticle, digest, load_articles
from supportbus_retriever.ports import ArticleHit
from supportbus_runtime.embedding import TextEmbedder
from supportbus_runtime.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

MANIFEST = "supportbus-manifest.json"
INDEX_FORMAT = 1
_SNIPPET_CHARS = 400
_REBUILD_HINT = "run `supportbus index build` to (re)create it"


class LlamaEmbeddingAdapter(BaseEmbedding):
    """Lets LlamaIndex embed with our shared MiniLM embedder (one model load per process)."""

    _embedder: TextEmbedder = PrivateAttr()

    def __init__(self, embedder: TextEmbedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=64, **kwargs)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()  # type: ignore[no-any-return]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()  # type: ignore[no-any-return]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()  # type: ignore[no-any-return]


def _documents(articles: list[KbArticle]) -> list[Document]:
    return [
        Document(
            id_=a.article_id,
            text=f"# {a.title}\n\n{a.body}",
            metadata={"article_id": a.article_id, "title": a.title, "intents": ",".join(a.intents)},
            # The tags are answers, not text: keep them out of what is embedded.
            excluded_embed_metadata_keys=["article_id", "intents"],
            excluded_llm_metadata_keys=["article_id", "intents"],
        )
        for a in articles
    ]


class LlamaIndexKnowledgeIndex:
    def __init__(self, index: VectorStoreIndex) -> None:
        self._index = index

    @classmethod
    def build(
        cls, kb_dir: Path, index_dir: Path, *, embedder: TextEmbedder
    ) -> LlamaIndexKnowledgeIndex:
        articles = load_articles(kb_dir)
        nodes = MarkdownNodeParser.from_defaults().get_nodes_from_documents(_documents(articles))
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
        # Sections of one article compete for slots, so fetch more chunks than articles wanted.
        with _tracer.start_as_current_span("vector_search") as span:
            span.set_attribute("supportbus.vector_store", "llama-index-simple")
            span.set_attribute("supportbus.k", k)
            nodes = self._index.as_retriever(similarity_top_k=k * 4).retrieve(query)
            span.set_attribute("supportbus.chunks", len(nodes))
        best: dict[str, ArticleHit] = {}
        for scored in nodes:
            meta = scored.node.metadata
            article_id = str(meta["article_id"])
            score = float(scored.score or 0.0)
            if article_id not in best or score > best[article_id].score:
                best[article_id] = ArticleHit(
                    article_id=article_id,
                    title=str(meta["title"]),
                    intents=tuple(str(meta.get("intents", "")).split(",")),
                    snippet=_snippet(scored.node.get_content()),
                    score=score,
                )
        return sorted(best.values(), key=lambda h: h.score, reverse=True)[:k]


_MARKUP = re.compile(r"\*\*|__|`|^\s*[-*]\s+|^\s*\d+\.\s+|^\|.*\|$", re.MULTILINE)


def _snippet(text: str) -> str:
    """The section's prose as plain text (replies and tickets are not markdown)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    lines = [_MARKUP.sub("", line).strip() for line in lines]
    flat = " ".join(" ".join(line for line in lines if line).split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[: _SNIPPET_CHARS - 1].rstrip() + "…"
