"""What retrieval needs from a vector store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from supportbus_runtime.embedding import TextEmbedder


@dataclass(frozen=True)
class ArticleHit:
    article_id: str
    title: str
    intents: tuple[str, ...]
    snippet: str
    score: float


class KnowledgeIndex(Protocol):
    @property
    def embedder(self) -> TextEmbedder:
        """The model the stored vectors come from: queries must be embedded with it."""
        ...

    def search(self, query: str, k: int) -> list[ArticleHit]:
        """The ``k`` best distinct articles for ``query``, best first. Blocking: it embeds the
        query and searches on the calling thread (CLI evaluation, scripts)."""
        ...

    async def search_by_vector(
        self, query: str, vector: Sequence[float], k: int
    ) -> list[ArticleHit]:
        """The same for a query already embedded, off the event loop. ``query`` is the text
        (hybrid search also matches its words)."""
        ...
