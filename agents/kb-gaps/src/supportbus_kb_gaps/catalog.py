"""Which intents each knowledge-base article answers, read from the articles' front matter
(``intents: [...]``, as the retriever reads it). Retrieved articles carry no tags on the bus, so
the agent reads them from the same ``data/kb`` the retriever indexes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from supportbus_runtime.kit import ConfigurationError
from supportbus_runtime.knowledge_base import read_article_files

IntentCatalog = Mapping[str, frozenset[str]]
"""Article id -> the intents it answers."""


def load_catalog(kb_dir: Path) -> dict[str, frozenset[str]]:
    catalog: dict[str, frozenset[str]] = {}
    for article in read_article_files(kb_dir):
        intents = article.meta.get("intents")
        if not isinstance(intents, list):
            raise ConfigurationError(f"{article.path}: front matter needs an intents list")
        catalog[article.article_id] = frozenset(str(i) for i in intents)
    return catalog
