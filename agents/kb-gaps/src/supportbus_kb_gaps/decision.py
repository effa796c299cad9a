"""The decision, a pure function: does this retrieval show a gap in the knowledge base?"""

from __future__ import annotations

from dataclasses import dataclass

from supportbus_contracts import KnowledgeRetrieved
from supportbus_kb_gaps.catalog import IntentCatalog
from supportbus_kb_gaps.events import MAX_EXAMPLE_CHARS, GapReason, KnowledgeGapFound
from supportbus_runtime.pii import redact


@dataclass(frozen=True)
class Gap:
    reason: GapReason
    best_score: float | None


def find_gap(event: KnowledgeRetrieved, catalog: IntentCatalog, min_score: float) -> Gap | None:
    """``no_article_for_intent`` when no retrieved article is tagged with the classified
    intent; ``low_score`` when the best of those that are scores below ``min_score``;
    otherwise None (the knowledge base answered)."""
    intent = event.classification.intent
    answering = [a.score for a in event.articles if intent in catalog.get(a.article_id, ())]
    if not answering:
        best_any = max((a.score for a in event.articles), default=None)
        return Gap("no_article_for_intent", best_any)
    best = max(answering)
    return Gap("low_score", best) if best < min_score else None


def example_question(event: KnowledgeRetrieved) -> str:
    """The customer's text as an example, personal data redacted first, then trimmed."""
    text = redact(event.request.query_text())
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    return text[: MAX_EXAMPLE_CHARS - 1] + "…"


def gap_found(
    event: KnowledgeRetrieved, gap: Gap, *, min_score: float, producer: str
) -> KnowledgeGapFound:
    return KnowledgeGapFound.derived_from(
        event,
        producer=producer,
        intent=event.classification.intent,
        category=event.classification.category,
        best_score=gap.best_score,
        min_score=min_score,
        reason=gap.reason,
        article_ids=[a.article_id for a in event.articles],
        example_question=example_question(event),
    )
