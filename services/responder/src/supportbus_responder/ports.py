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


class ReplyComposer(Protocol):
    async def compose(
        self,
        request: SupportRequest,
        classification: Classification,
        articles: list[Article],
        ticket: Ticket,
    ) -> Reply: ...
