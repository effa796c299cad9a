"""The default composer: a deterministic reply built only from the retrieved articles and the
ticket, so every claim in it comes from the knowledge base."""

from __future__ import annotations

from supportbus_responder.ports import Reply, ReplyInput

_URGENT_NOTE = (
    "Because this may affect the security of your money, we have marked your case as urgent. "
    "If you have not already, freeze your card in the app (Cards > Freeze) right away."
)
_NO_ARTICLE = (
    "We could not find a help article that answers this directly, so a member of our team will "
    "look at it personally."
)


class TemplateComposer:
    def __init__(self, *, brand: str, max_cited_articles: int = 2) -> None:
        self._brand = brand
        self._max_cited = max_cited_articles

    async def compose(self, case: ReplyInput) -> Reply:
        cited = case.articles[: self._max_cited]
        ticket = case.ticket
        parts = ["Hello,", f"Thank you for contacting {self._brand} support."]
        if case.classification.priority == "urgent":
            parts.append(_URGENT_NOTE)
        if cited:
            top = cited[0]
            parts.append(f'Here is what our help article "{top.title}" says: {top.snippet}')
            links = "\n".join(f"- {a.title}: {a.url or a.article_id}" for a in cited)
            parts.append(f"You can read more here:\n{links}")
        else:
            parts.append(_NO_ARTICLE)
        parts.append(
            f"We have opened ticket {ticket.ticket_id} for you; you can follow it at {ticket.url}. "
            "Reply to this message if anything is still unclear."
        )
        parts.append(f"Kind regards,\n{self._brand} support")
        return Reply(
            text="\n\n".join(parts),
            cited_article_ids=[a.article_id for a in cited],
            composer="template",
        )
