"""Which intents each knowledge-base article answers, read from the articles' front matter
(``intents: [...]``, as the retriever reads it). Retrieved articles carry no tags on the bus, so
the agent reads them from the same ``data/kb`` the retriever indexes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from supportbus_runtime.kit import ConfigurationError

IntentCatalog = Mapping[str, frozenset[str]]
"""Article id -> the intents it answers."""

_FENCE = "---"


def load_catalog(kb_dir: Path) -> dict[str, frozenset[str]]:
    paths = sorted(kb_dir.glob("*.md"))
    if not paths:
        raise ConfigurationError(f"no articles (*.md) in {kb_dir}")
    catalog: dict[str, frozenset[str]] = {}
    for path in paths:
        article_id, intents = _tags(path)
        if article_id in catalog:
            raise ConfigurationError(f"{path}: duplicate article id {article_id}")
        catalog[article_id] = intents
    return catalog


def _tags(path: Path) -> tuple[str, frozenset[str]]:
    text = path.read_text(encoding="utf-8")
    head, fence, _ = text.removeprefix(_FENCE + "\n").partition("\n" + _FENCE)
    if not text.startswith(_FENCE + "\n") or not fence:
        raise ConfigurationError(f"{path}: no front matter")
    try:
        meta = yaml.safe_load(head)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path}: cannot read front matter: {error}") from error
    intents = meta.get("intents") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not meta.get("id") or not isinstance(intents, list):
        raise ConfigurationError(f"{path}: front matter needs an id and an intents list")
    return str(meta["id"]), frozenset(str(i) for i in intents)
