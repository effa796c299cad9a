"""The knowledge-base articles the replies cite, read from ``data/kb`` (the front matter's id
and title, then the body): ``support.response.ready`` events carry only the cited ids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from supportbus_runtime.knowledge_base import read_article_files


@dataclass(frozen=True)
class KnowledgeArticle:
    article_id: str
    title: str
    text: str


KnowledgeBase = Mapping[str, KnowledgeArticle]
"""Article id -> the article."""


def load_knowledge_base(kb_dir: Path) -> dict[str, KnowledgeArticle]:
    return {
        a.article_id: KnowledgeArticle(
            a.article_id, str(a.meta.get("title") or a.article_id), a.body
        )
        for a in read_article_files(kb_dir)
    }
