"""Composition root of the responder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from supportbus_responder.declaration import DECLARATION
from supportbus_responder.handlers import routes
from supportbus_responder.handoff import HandoffComposer
from supportbus_responder.ports import ReplyComposer
from supportbus_responder.settings import ResponderSettings
from supportbus_responder.template import TemplateComposer
from supportbus_runtime.kit import DeliveryMetrics, ServiceApp, build_service_app
from supportbus_runtime.llm.metrics import LlmMetrics

if TYPE_CHECKING:  # the LLM stack (aiohttp, tiktoken) is imported only when configured
    from supportbus_responder.llm_composer import LlmComposer
    from supportbus_runtime.llm import LlmClient


def build_app(settings: ResponderSettings, *, composer: ReplyComposer | None = None) -> ServiceApp:
    metrics = DeliveryMetrics()
    client: LlmClient | None = None
    if composer is None and settings.composer == "llm":
        from supportbus_runtime.llm import LlmClient

        client = LlmClient(settings, metrics=LlmMetrics(metrics.registry))
        composer = build_llm_composer(settings, client)
    elif composer is None:
        composer = TemplateComposer(
            brand=settings.brand, max_cited_articles=settings.max_cited_articles
        )
    # Requests routed to a person get the holding reply, whichever composer writes the rest.
    handoff = HandoffComposer(composer, brand=settings.brand)
    return build_service_app(
        DECLARATION,
        settings,
        routes(handoff),
        metrics=metrics,
        closing=[client.aclose if client else None],  # the LLM connection pool
    )


def build_llm_composer(
    settings: ResponderSettings,
    client: LlmClient | None = None,
    *,
    llm_metrics: LlmMetrics | None = None,
) -> LlmComposer:
    from supportbus_responder.llm_composer import LlmComposer
    from supportbus_runtime.llm import LlmClient

    return LlmComposer(
        client or LlmClient(settings, metrics=llm_metrics),
        TemplateComposer(brand=settings.brand, max_cited_articles=settings.max_cited_articles),
        brand=settings.brand,
        max_cited_articles=settings.max_cited_articles,
        max_reply_chars=settings.max_reply_chars,
        allow_pii=settings.allow_pii_to_llm,
        max_input_chars=settings.llm_max_input_chars,
    )
