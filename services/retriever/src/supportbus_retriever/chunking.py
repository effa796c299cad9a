"""What every vector store of the retriever shares: how articles become embedded chunks, and how
chunk hits become article hits.

Articles are split at their markdown sections (each well under MiniLM's 256-token window), the
article title is embedded with every section so a chunk never loses its topic, and hits are
folded per article (best section wins).
"""

from __future__ import annotations

from typing import Any

from llama_index.core import Document
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import MarkdownNodeParser
from llama_index.core.schema import BaseNode
from pydantic import PrivateAttr

from supportbus_retriever.hits import CHUNKS_PER_ARTICLE, best_per_article, chunk_hit, snippet
from supportbus_retriever.kb import KbArticle
from supportbus_runtime.embedding import TextEmbedder

# The hit helpers live in supportbus_retriever.hits; re-exported for the stores' imports.
__all__ = [
    "CHUNKS_PER_ARTICLE",
    "LlamaEmbeddingAdapter",
    "article_documents",
    "best_per_article",
    "chunk_articles",
    "chunk_hit",
    "snippet",
]


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
