"""The events of the support pipeline, version 1.

Each downstream event carries forward everything the next hop needs (the request, then its
classification, then the articles, then the ticket), so no service ever queries another.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, FiniteFloat

from supportbus_contracts.envelope import Contract, Event

Channel = Literal["email", "chat", "api", "web"]
Priority = Literal["urgent", "high", "normal", "low"]
# Who answers: the pipeline (an automated reply) or a person (a holding reply, the ticket in
# the helpdesk's human queue).
ReplyRoute = Literal["auto", "human"]
HandoffReason = Literal["customer_asked", "low_confidence", "intent_policy"]

MAX_BODY_CHARS = 20_000
MAX_SUBJECT_CHARS = 500

Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class SupportRequest(Contract):
    """What the customer sent, as the channel received it."""

    channel: Channel
    customer_id: Identifier
    email: str | None = Field(
        default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$", description="Reply address."
    )
    subject: str = Field(default="", max_length=MAX_SUBJECT_CHARS)
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    locale: str = Field(default="en", min_length=2, max_length=35)
    metadata: dict[str, str] = Field(
        default_factory=dict, max_length=50, description="Free key/value pairs from the channel."
    )

    def query_text(self) -> str:
        """What the models read (and ``QueryEmbedding`` embeds): the subject (often the clearest
        line), a newline and the body, stripped of surrounding whitespace."""
        return f"{self.subject}\n{self.body}".strip()


class Classification(Contract):
    """What the classifier decided, and which model decided it."""

    category: Identifier
    intent: Identifier
    priority: Priority
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(max_length=500)
    model: str = Field(max_length=128, description="Which model made the decision.")
    tokens: int | None = Field(
        default=None, ge=0, description="LLM tokens (prompt + completion) spent, if an LLM ran."
    )
    fallback_reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why the configured provider's answer was not used, if it was not.",
    )
    route: ReplyRoute = Field(
        default="auto",
        description="Optional (events 1.2, KnowledgeRetrieved 1.1): auto, an automated reply; "
        "human, a person answers and the customer gets a holding reply.",
    )
    route_reason: HandoffReason | None = Field(
        default=None, description="Why the request goes to a person, when it does."
    )


class QueryEmbedding(Contract):
    """The sentence embedding of the request's text: its subject, a newline and its body,
    stripped of surrounding whitespace (``SupportRequest.query_text()``), as the classifier
    computed it. A consumer that embeds that text with the same model (same ``model`` name,
    same vector length) may use it instead of embedding again; any other consumer ignores it.
    """

    model: str = Field(
        min_length=1,
        max_length=128,
        description="The embedding model, e.g. sentence-transformers/all-MiniLM-L6-v2.",
    )
    vector: list[FiniteFloat] = Field(
        min_length=1,
        max_length=4_096,
        description="The L2-normalised embedding, each component rounded to 6 decimals.",
    )


class Article(Contract):
    """A knowledge-base article that answers the request, as found by the retriever."""

    article_id: Identifier
    title: str = Field(max_length=300)
    snippet: str = Field(max_length=2_000)
    score: float
    url: str | None = Field(default=None, max_length=2_000)


class Ticket(Contract):
    """The ticket opened for the request in the ticketing system."""

    ticket_id: Identifier
    url: str = Field(max_length=2_000)
    status: str = Field(max_length=32)
    created_at: AwareDatetime | None = Field(
        default=None,
        description="Since 1.1, optional: when the ticketing system opened the ticket (the same "
        "for every repeated request with the same idempotency key).",
    )


class RequestReceived(Event):
    """A customer asked for help. Published by any producer: email, chat, API, web."""

    type: Literal["support.request.received"] = "support.request.received"
    request: SupportRequest


class RequestClassified(Event):
    type: Literal["support.request.classified"] = "support.request.classified"
    # 1.1 added query_embedding; 1.2 classification.route and route_reason.
    version: str = Field(
        default="1.2",
        pattern=r"^1\.[0-9]+$",
        description="Schema version MAJOR.MINOR; the major is also in the topic name.",
    )
    request: SupportRequest
    classification: Classification
    query_embedding: QueryEmbedding | None = Field(
        default=None,
        description="Since 1.1, optional: the embedding of the request's subject and body the "
        "classifier computed, so the retriever need not embed the same text again. Not carried "
        "into later events.",
    )


class KnowledgeRetrieved(Event):
    type: Literal["support.knowledge.retrieved"] = "support.knowledge.retrieved"
    # 1.1 added classification.route and route_reason.
    version: str = Field(
        default="1.1",
        pattern=r"^1\.[0-9]+$",
        description="Schema version MAJOR.MINOR; the major is also in the topic name.",
    )
    request: SupportRequest
    classification: Classification
    articles: list[Article] = Field(max_length=20)


class TicketCreated(Event):
    """A ticket was opened; ``occurred_at`` is the ticket's creation time when the ticketing
    system gives one."""

    type: Literal["support.ticket.created"] = "support.ticket.created"
    # 1.1 added ticket.created_at; 1.2 classification.route and route_reason.
    version: str = Field(
        default="1.2",
        pattern=r"^1\.[0-9]+$",
        description="Schema version MAJOR.MINOR; the major is also in the topic name.",
    )
    request: SupportRequest
    classification: Classification
    articles: list[Article] = Field(max_length=20)
    ticket: Ticket


class ResponseReady(Event):
    """The reply to send to the customer on the channel they used."""

    type: Literal["support.response.ready"] = "support.response.ready"
    # 1.1 added ticket.created_at; 1.2 classification.route and route_reason.
    version: str = Field(
        default="1.2",
        pattern=r"^1\.[0-9]+$",
        description="Schema version MAJOR.MINOR; the major is also in the topic name.",
    )
    request: SupportRequest
    classification: Classification
    ticket: Ticket
    reply: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    cited_article_ids: list[Identifier] = Field(max_length=20)
    composer: str = Field(max_length=128, description="What wrote the reply, e.g. 'template'.")
    model: str | None = Field(
        default=None, max_length=128, description="The LLM that wrote the reply, if one did."
    )
    tokens: int | None = Field(
        default=None, ge=0, description="LLM tokens (prompt + completion) spent on the reply."
    )
    fallback_reason: str | None = Field(
        default=None,
        max_length=300,
        description="Why the configured composer's reply was replaced (e.g. by the template).",
    )


ALL_EVENTS: tuple[type[Event], ...] = (
    RequestReceived,
    RequestClassified,
    KnowledgeRetrieved,
    TicketCreated,
    ResponseReady,
)
