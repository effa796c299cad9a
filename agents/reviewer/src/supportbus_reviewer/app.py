"""Composition root of the reviewer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportbus_reviewer.declaration import DECLARATION
from supportbus_reviewer.handlers import routes
from supportbus_reviewer.knowledge import KnowledgeBase, load_knowledge_base
from supportbus_reviewer.ports import ReplyReviewer
from supportbus_reviewer.settings import ReviewerSettings
from supportbus_runtime.kit import DeliveryMetrics, ServiceApp, build_service_app

if TYPE_CHECKING:  # CrewAI (6 s of imports) and the LLM stack only for the real reviewer
    from supportbus_reviewer.crew import CrewReviewer
    from supportbus_runtime.llm import LlmClient
    from supportbus_runtime.llm.metrics import LlmMetrics


def build_app(
    settings: ReviewerSettings,
    *,
    reviewer: ReplyReviewer | None = None,
    knowledge: KnowledgeBase | None = None,
) -> ServiceApp:
    metrics = DeliveryMetrics()
    articles = load_knowledge_base(settings.kb_dir) if knowledge is None else knowledge
    client: LlmClient | None = None
    if reviewer is None:
        from supportbus_runtime.llm import LlmClient
        from supportbus_runtime.llm.metrics import LlmMetrics

        client = LlmClient(settings, metrics=LlmMetrics(metrics.registry))
        reviewer = build_crew_reviewer(settings, client)
    return build_service_app(
        DECLARATION,
        settings,
        routes(reviewer, articles, min_score=settings.min_score),
        metrics=metrics,
        closing=[client.aclose if client else None],  # the LLM connection pool
    )


def build_crew_reviewer(
    settings: ReviewerSettings,
    client: LlmClient | None = None,
    *,
    llm_metrics: LlmMetrics | None = None,
) -> CrewReviewer:
    from supportbus_reviewer.crew import CrewReviewer
    from supportbus_runtime.llm import LlmClient

    return CrewReviewer(
        client or LlmClient(settings, metrics=llm_metrics),
        brand=settings.brand,
        allow_pii=settings.allow_pii_to_llm,
        max_reply_chars=settings.llm_max_input_chars,
        max_article_chars=settings.max_article_chars,
        threads=settings.crew_threads,
        timeout_s=settings.review_timeout_s,
        token_budget=settings.llm_token_budget,
    )
