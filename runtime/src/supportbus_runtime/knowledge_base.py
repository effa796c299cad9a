"""The knowledge base's article files, read once for every agent that needs them: ``data/kb/*.md``,
each a YAML front matter (``id``, ``title``, ``intents``, ...) between ``---`` fences, then the
body. Events carry only article ids (and snippets), so an agent that needs more (the intents an
article answers, its whole text) reads the same files the retriever indexes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from supportbus_runtime.errors import ConfigurationError

__all__ = ["ArticleFile", "read_article_files"]

_FENCE = "---"


@dataclass(frozen=True)
class ArticleFile:
    path: Path
    article_id: str
    meta: Mapping[str, Any]
    """The whole front matter; what else a reader needs of it, it checks itself."""
    body: str


def read_article_files(kb_dir: Path) -> list[ArticleFile]:
    """Every article of ``kb_dir`` in file-name order; a ``ConfigurationError`` naming the file
    for a missing directory, a file without front matter or id, or a repeated id."""
    paths = sorted(kb_dir.glob("*.md"))
    if not paths:
        raise ConfigurationError(f"no articles (*.md) in {kb_dir}")
    articles: list[ArticleFile] = []
    seen: set[str] = set()
    for path in paths:
        article = _read(path)
        if article.article_id in seen:
            raise ConfigurationError(f"{path}: duplicate article id {article.article_id}")
        seen.add(article.article_id)
        articles.append(article)
    return articles


def _read(path: Path) -> ArticleFile:
    text = path.read_text(encoding="utf-8")
    head, fence, body = text.removeprefix(_FENCE + "\n").partition("\n" + _FENCE)
    if not text.startswith(_FENCE + "\n") or not fence:
        raise ConfigurationError(f"{path}: no front matter")
    try:
        meta = yaml.safe_load(head)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path}: cannot read front matter: {error}") from error
    if not isinstance(meta, dict) or not meta.get("id"):
        raise ConfigurationError(f"{path}: front matter needs an id")
    return ArticleFile(path, str(meta["id"]), meta, body.strip())
