"""The seam where a reply is written: a template today, an LLM behind the same port later."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from supportbus_contracts import Article, Classification, SupportRequest, Ticket


@dataclass(frozen=True)
class Reply:
    text: str
    cited_article_ids: list[str]
    composer: str
    model: str | None = None
    tokens: int | None = None
    fallback_reason: str | None = None


class ReplyComposer(Protocol):
    async def compose(
        self,
        request: SupportRequest,
        classification: Classification,
        articles: list[Article],
        ticket: Ticket,
    ) -> Reply: ...
