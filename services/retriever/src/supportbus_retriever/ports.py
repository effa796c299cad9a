"""What retrieval needs from a vector store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ArticleHit:
    article_id: str
    title: str
    intents: tuple[str, ...]
    snippet: str
    score: float


class KnowledgeIndex(Protocol):
    def search(self, query: str, k: int) -> list[ArticleHit]:
        """The ``k`` best distinct articles for ``query``, best first."""
        ...
