"""The agent's own event, on the contracts' envelope; its JSON Schema is committed under
``agents/reviewer/schemas`` (``python -m supportbus_contracts.schemas agents/reviewer/schemas
supportbus_reviewer.events:ALL_EVENTS``, run in the agent's own environment)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from supportbus_contracts.envelope import Contract, Event
from supportbus_contracts.events import Identifier

FindingKind = Literal["grounded", "complete", "polite", "unsupported_promise"]
"""The check a finding fails: ``grounded`` (a claim the cited articles do not support, or an
article the knowledge base does not have), ``complete`` (something the customer needs is
missing), ``polite`` (tone), ``unsupported_promise`` (a promise the articles do not make)."""

Verdict = Literal["approved", "flagged"]

MAX_DETAIL_CHARS = 300
MAX_FINDINGS = 20


class ReviewFinding(Contract):
    """One problem the reviewer found in the reply."""

    kind: FindingKind
    detail: str = Field(
        max_length=MAX_DETAIL_CHARS,
        description="What is wrong, in a sentence; personal data redacted.",
    )


class ReplyReviewed(Event):
    """A reply was checked against the knowledge-base articles it cites: grounded, complete,
    polite, and promising nothing the articles do not. ``flagged`` replies want a person's look."""

    type: Literal["support.reply.reviewed"] = "support.reply.reviewed"
    ticket_id: Identifier
    composer: str = Field(max_length=128, description="What wrote the reply, e.g. 'template'.")
    cited_article_ids: list[Identifier] = Field(
        max_length=20, description="The articles the reply cites, as the responder listed them."
    )
    score: float = Field(ge=0.0, le=1.0, description="0: unusable, 1: grounded, complete, polite.")
    verdict: Verdict = Field(
        description="approved: the score reaches min_score and nothing is ungrounded or "
        "promised beyond the articles; flagged: otherwise."
    )
    min_score: float = Field(description="The threshold the agent applied.")
    findings: list[ReviewFinding] = Field(max_length=MAX_FINDINGS)
    reviewer_model: str = Field(max_length=128, description="The LLM that reviewed the reply.")
    tokens: int | None = Field(
        default=None, ge=0, description="LLM tokens (prompt + completion) spent on the review."
    )
    fallback_reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why the fallback model reviewed instead of the primary, if it did.",
    )


ALL_EVENTS: tuple[type[Event], ...] = (ReplyReviewed,)
