"""Choosing the articles that answer a classified request."""

from __future__ import annotations

from dataclasses import replace

from supportbus_contracts import Article, Classification, SupportRequest
from supportbus_retriever.ports import ArticleHit, KnowledgeIndex

# Look further than k, so an intent-tagged article just below the cut can be promoted.
_CANDIDATE_FACTOR = 3


class RetrievalService:
    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        top_k: int,
        kb_base_url: str,
        intent_boost: float = 0.0,
        boost_min_confidence: float = 0.5,
    ) -> None:
        self._index = index
        self._top_k = top_k
        self._base_url = kb_base_url.rstrip("/")
        self._boost = intent_boost
        self._boost_min_confidence = boost_min_confidence

    def retrieve(self, request: SupportRequest, classification: Classification) -> list[Article]:
        query = f"{request.subject}\n{request.body}".strip()
        hits = self._index.search(query, self._top_k * _CANDIDATE_FACTOR)
        if self._boost and classification.confidence >= self._boost_min_confidence:
            # The classifier already read the request; articles written for its intent get a lift.
            hits = [
                replace(h, score=h.score + self._boost) if classification.intent in h.intents else h
                for h in hits
            ]
            hits.sort(key=lambda h: h.score, reverse=True)
        return [self._to_contract(hit) for hit in hits[: self._top_k]]

    def _to_contract(self, hit: ArticleHit) -> Article:
        return Article(
            article_id=hit.article_id,
            title=hit.title,
            snippet=hit.snippet,
            score=round(hit.score, 4),
            url=f"{self._base_url}/{hit.article_id}",
        )
