"""What a search returns, whatever the store: one hit per chunk, folded to the best chunk of
each article. No LlamaIndex here: a serving retriever imports none of it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from supportbus_retriever.ports import ArticleHit

# Sections of one article compete for slots, so stores fetch this many chunks per wanted article.
CHUNKS_PER_ARTICLE = 4
_SNIPPET_CHARS = 400


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
