"""The agent's own event, on the contracts' envelope; its JSON Schema is committed under
``agents/kb-gaps/schemas`` (``python -m supportbus_contracts.schemas agents/kb-gaps/schemas
supportbus_kb_gaps.events:ALL_EVENTS``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from supportbus_contracts.envelope import Event
from supportbus_contracts.events import Identifier

GapReason = Literal["no_article_for_intent", "low_score"]

MAX_EXAMPLE_CHARS = 500


class KnowledgeGapFound(Event):
    """A request the knowledge base did not answer well: none of the retrieved articles is
    tagged with the classified intent, or the best of those that are scored below the
    agent's threshold."""

    type: Literal["support.knowledge.gap_found"] = "support.knowledge.gap_found"
    intent: Identifier
    category: Identifier
    best_score: float | None = Field(
        description="The best score of the articles answering the intent (low_score), or of "
        "any retrieved article (no_article_for_intent); null when nothing was retrieved."
    )
    min_score: float = Field(description="The threshold the agent applied.")
    reason: GapReason
    article_ids: list[Identifier] = Field(
        max_length=20, description="The retrieved articles, best first."
    )
    example_question: str = Field(
        max_length=MAX_EXAMPLE_CHARS,
        description="The customer's text with personal data redacted, trimmed; never the raw body.",
    )


ALL_EVENTS: tuple[type[Event], ...] = (KnowledgeGapFound,)
