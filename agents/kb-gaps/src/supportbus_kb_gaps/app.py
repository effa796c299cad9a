"""Composition root of kb-gaps."""

from __future__ import annotations

from supportbus_kb_gaps.catalog import IntentCatalog, load_catalog
from supportbus_kb_gaps.declaration import DECLARATION
from supportbus_kb_gaps.handlers import routes
from supportbus_kb_gaps.settings import KbGapsSettings
from supportbus_runtime.kit import ServiceApp, build_service_app


def build_app(settings: KbGapsSettings, *, catalog: IntentCatalog | None = None) -> ServiceApp:
    tags = load_catalog(settings.kb_dir) if catalog is None else catalog
    return build_service_app(DECLARATION, settings, routes(tags, min_score=settings.min_score))
