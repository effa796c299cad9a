"""What every vector store of the retriever shares: how articles become embedded chunks, and how
chunk hits become article hits.

Articles are split at their markdown sections (each well under MiniLM's 256-token window), the
article title is embedded with every section so a chunk never loses its topic, and hits are
folded per article (best section wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from llama_index.core import Document
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import MarkdownNodeParser
from llama_index.core.schema import BaseNode
from pydantic import PrivateAttr

from supportbus_retriever.kb import KbArticle
from supportbus_retriever.ports import ArticleHit
from supportbus_runtime.embedding import TextEmbedder

# Sections of one article compete for slots, so stores fetch this many chunks per wanted article.
CHUNKS_PER_ARTICLE = 4
_SNIPPET_CHARS = 400


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


def article_documents(articles: list[KbArticle]) -> list[Document]:
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


def chunk_articles(articles: list[KbArticle]) -> list[BaseNode]:
    """One node per markdown section, in article order then section order."""
    return MarkdownNodeParser.from_defaults().get_nodes_from_documents(article_documents(articles))


def chunk_hit(metadata: Mapping[str, Any], content: str, score: float) -> ArticleHit:
    """An article hit from one chunk: its metadata, its text (no metadata) and its score."""
    return ArticleHit(
        article_id=str(metadata["article_id"]),
        title=str(metadata["title"]),
        intents=tuple(str(metadata.get("intents", "")).split(",")),
        snippet=snippet(content),
        score=score,
    )


def best_per_article(hits: Iterable[ArticleHit], k: int) -> list[ArticleHit]:
    """The ``k`` best distinct articles, each represented by its best-scoring chunk."""
    best: dict[str, ArticleHit] = {}
    for hit in hits:
        if hit.article_id not in best or hit.score > best[hit.article_id].score:
            best[hit.article_id] = hit
    return sorted(best.values(), key=lambda h: h.score, reverse=True)[:k]


_MARKUP = re.compile(r"\*\*|__|`|^\s*[-*]\s+|^\s*\d+\.\s+|^\|.*\|$", re.MULTILINE)


def snippet(text: str) -> str:
    """The section's prose as plain text (replies and tickets are not markdown)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    lines = [_MARKUP.sub("", line).strip() for line in lines]
    flat = " ".join(" ".join(line for line in lines if line).split())
    return flat if len(flat) <= _SNIPPET_CHARS else flat[: _SNIPPET_CHARS - 1].rstrip() + "…"
