"""The reply to a request a person will answer (the classifier routed it ``human``): a holding
reply that says so and links the ticket, instead of an automated answer. No LLM writes it and
no article is cited: the person decides what the answer is."""

from __future__ import annotations

from supportbus_responder.ports import Reply, ReplyComposer, ReplyInput

_WHY = {
    "customer_asked": "As you asked, a member of our team will answer you personally.",
    "low_confidence": "A member of our team will look at your message and answer you personally.",
    "intent_policy": "Requests like yours are always handled by a member of our team, who will "
    "answer you personally.",
}


class HandoffComposer:
    """Writes the holding reply for requests routed to a person; ``automated`` the rest."""

    def __init__(self, automated: ReplyComposer, *, brand: str) -> None:
        self._automated = automated
        self._brand = brand

    async def compose(self, case: ReplyInput) -> Reply:
        if case.classification.route != "human":
            return await self._automated.compose(case)
        reason = case.classification.route_reason or "low_confidence"
        ticket = case.ticket
        text = "\n\n".join(
            [
                "Hello,",
                f"Thank you for contacting {self._brand} support. {_WHY[reason]}",
                f"Your case is ticket {ticket.ticket_id}; you can follow it at {ticket.url}.",
                f"Kind regards,\n{self._brand} support",
            ]
        )
        return Reply(text=text, cited_article_ids=[], composer="handoff")
