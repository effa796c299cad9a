"""Composition root of the responder."""

from __future__ import annotations

from supportbus_contracts import ResponseReady
from supportbus_contracts.topics import RESPONSE_READY
from supportbus_responder.handlers import SERVICE, routes
from supportbus_responder.ports import ReplyComposer
from supportbus_responder.settings import ResponderSettings
from supportbus_responder.template import TemplateComposer
from supportbus_runtime.app import Output, ServiceApp, build_service_app


def build_app(settings: ResponderSettings, *, composer: ReplyComposer | None = None) -> ServiceApp:
    composer = composer or TemplateComposer(
        brand=settings.brand, max_cited_articles=settings.max_cited_articles
    )
    return build_service_app(
        service=SERVICE,
        settings=settings,
        routes=routes(composer),
        outputs=[Output(RESPONSE_READY, ResponseReady)],
    )
