"""The seam where a reply is written: a template today, an LLM behind the same port later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from supportbus_contracts import Article, Classification, SupportRequest, Ticket, TicketCreated


@dataclass(frozen=True)
class ReplyInput:
    """What a reply is written from: the request, how it was classified, the articles found for
    it and the ticket opened (a composer needs neither the event's envelope nor its ids)."""

    request: SupportRequest
    classification: Classification
    articles: Sequence[Article]
    ticket: Ticket

    @classmethod
    def of(cls, event: TicketCreated) -> ReplyInput:
        return cls(event.request, event.classification, tuple(event.articles), event.ticket)


@dataclass(frozen=True)
class Reply:
    text: str
    cited_article_ids: list[str]
    composer: str
    model: str | None = None
    tokens: int | None = None
    fallback_reason: str | None = None


class ReplyComposer(Protocol):
    async def compose(self, case: ReplyInput) -> Reply: ...
