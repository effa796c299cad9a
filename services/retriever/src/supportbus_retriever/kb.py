"""The knowledge base: one markdown file per article; front matter lists the intents it answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import frontmatter

from supportbus_retriever.errors import KnowledgeBaseError


@dataclass(frozen=True)
class KbArticle:
    article_id: str
    title: str
    category: str
    intents: tuple[str, ...]
    body: str


def load_articles(kb_dir: Path) -> list[KbArticle]:
    paths = sorted(kb_dir.glob("*.md"))
    if not paths:
        raise KnowledgeBaseError(f"no articles (*.md) in {kb_dir}")
    articles = [_load(path) for path in paths]
    seen: set[str] = set()
    for article in articles:
        if article.article_id in seen:
            raise KnowledgeBaseError(f"duplicate article id {article.article_id}")
        seen.add(article.article_id)
    return articles


def _load(path: Path) -> KbArticle:
    try:
        post = frontmatter.load(str(path))
    except Exception as error:
        raise KnowledgeBaseError(f"{path}: cannot read front matter: {error}") from error
    meta = post.metadata
    intents = meta.get("intents")
    if not meta.get("id") or not meta.get("title") or not isinstance(intents, list) or not intents:
        raise KnowledgeBaseError(
            f"{path}: front matter needs id, title and a non-empty intents list"
        )
    return KbArticle(
        article_id=str(meta["id"]),
        title=str(meta["title"]),
        category=str(meta.get("category", "")),
        intents=tuple(str(i) for i in intents),
        body=post.content.strip(),
    )


def digest(articles: list[KbArticle]) -> str:
    """Changes whenever any article's content or tags change: the index must then be rebuilt."""
    hasher = hashlib.sha256()
    for article in sorted(articles, key=lambda a: a.article_id):
        hasher.update(
            repr(
                (article.article_id, article.title, article.category, article.intents, article.body)
            ).encode()
        )
    return hasher.hexdigest()
