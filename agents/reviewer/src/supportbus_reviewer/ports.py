"""The seam where a reply is reviewed: a CrewAI crew in production, a fake in tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from supportbus_reviewer.events import ReviewFinding
from supportbus_reviewer.knowledge import KnowledgeArticle


@dataclass(frozen=True)
class ReviewCase:
    """What a reply is reviewed against: its text and the cited articles the knowledge base
    has (a reviewer needs neither the event's envelope nor the customer's message)."""

    reply: str
    articles: Sequence[KnowledgeArticle]


@dataclass(frozen=True)
class Review:
    score: float
    findings: Sequence[ReviewFinding]
    model: str
    tokens: int | None = None
    fallback_reason: str | None = None


class ReplyReviewer(Protocol):
    async def review(self, case: ReviewCase) -> Review:
        """The review of ``case``; raises a ``TransientError`` for what may pass (the LLM
        unavailable) and a ``PermanentError`` for what will not (an answer that is no review)."""
        ...
