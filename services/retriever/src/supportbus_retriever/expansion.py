"""Question expansion: the questions customers asked that an article answered, indexed with it.

Help centres index the questions an article was the answer to; here those are labelled
Banking77 texts (a ``text,category`` CSV, category = intent, the file ``supportbus train``
reads). Each question is attached to every article tagged with its intent, as an extra BM25
unit of that article (:func:`supportbus_retriever.lexical.build_lexical`) and as an extra
vector (:class:`supportbus_retriever.snapshot.QuestionVectors`); cross-validation on the
training texts chose both (see :mod:`supportbus_retriever.llama_index_store`). Questions only
change which articles rank where: a hit's title and snippet always come from the article's own
sections, so one customer's question is never shown to another.

The index's manifest records the questions' sha256 and count, so an index built from other
questions is stale (``supportbus prepare`` rebuilds it). An evaluation must never expand with
the texts it is scored on: ``supportbus eval retrieve`` expands only with ``--train`` and
refuses a file that shares texts with ``--test``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supportbus_retriever.errors import KnowledgeBaseError
from supportbus_retriever.kb import KbArticle

log = logging.getLogger(__name__)


def normalised(text: str) -> str:
    """How two texts are compared for overlap: case and spacing do not make them different."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class Expansion:
    """Labelled questions (text, intent), in file order, and where they came from."""

    texts: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.intents):
            raise ValueError(f"{len(self.texts)} texts for {len(self.intents)} intents")

    @classmethod
    def of(cls, texts: Iterable[str], intents: Iterable[str], *, source: str = "") -> Expansion:
        return cls(tuple(texts), tuple(intents), source)

    @classmethod
    def read(cls, path: Path) -> Expansion:
        """A Banking77-format CSV (``text,category``); KnowledgeBaseError if it is not one."""
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if not reader.fieldnames or not {"text", "category"} <= set(reader.fieldnames):
                    raise KnowledgeBaseError(f"{path} must have the columns text,category")
                rows = [
                    (r["text"].strip(), r["category"].strip()) for r in reader if r["text"].strip()
                ]
        except (OSError, UnicodeDecodeError) as error:
            raise KnowledgeBaseError(f"cannot read expansion questions {path}: {error}") from error
        return cls.of((t for t, _ in rows), (c for _, c in rows), source=str(path))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def sha256(self) -> str:
        """Of the questions as indexed (one ``text<TAB>intent`` line each, in order): changes
        whenever a question or its label does, whatever the file's encoding or line ends."""
        hasher = hashlib.sha256()
        for text, intent in zip(self.texts, self.intents, strict=True):
            hasher.update(f"{text}\t{intent}\n".encode())
        return hasher.hexdigest()

    def attached(self, articles: Sequence[KbArticle]) -> list[tuple[str, str]]:
        """(article id, question) for each question and each article tagged with its intent;
        a question whose intent no article has is left out."""
        by_intent: dict[str, list[str]] = {}
        for article in articles:
            for intent in article.intents:
                by_intent.setdefault(intent, []).append(article.article_id)
        return [
            (article_id, text)
            for text, intent in zip(self.texts, self.intents, strict=True)
            for article_id in by_intent.get(intent, ())
        ]

    def without(self, texts: Iterable[str]) -> Expansion:
        """These questions minus any of ``texts`` (compared :func:`normalised`)."""
        drop = {normalised(t) for t in texts}
        kept = [
            (t, i)
            for t, i in zip(self.texts, self.intents, strict=True)
            if normalised(t) not in drop
        ]
        return Expansion.of((t for t, _ in kept), (i for _, i in kept), source=self.source)

    def overlap(self, texts: Iterable[str]) -> int:
        """How many of ``texts`` are also questions here (compared :func:`normalised`)."""
        mine = {normalised(t) for t in self.texts}
        return sum(normalised(t) in mine for t in texts)

    def manifest(self, attached: int) -> dict[str, Any]:
        """What the index's manifest records of them (``attached``: units indexed)."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "questions": len(self),
            "attached": attached,
        }


NO_EXPANSION = Expansion()


def configured_expansion(path: Path | None) -> Expansion:
    """The questions the settings point at (``RetrieverSettings.expansion_path``): none when
    expansion is off, and none, logged, when the file is missing."""
    if path is None:
        return NO_EXPANSION
    if not path.is_file():
        log.warning(
            "no expansion questions at %s: the knowledge index is built from the articles alone "
            "(set RETRIEVER_EXPANSION_CSV, or RETRIEVER_EXPANSION=false to silence this)",
            path,
        )
        return NO_EXPANSION
    return Expansion.read(path)
