from __future__ import annotations

from pathlib import Path

import pytest
from faststream.kafka import TestKafkaBroker

from supportbus_contracts import (
    Classification,
    KnowledgeRetrieved,
    RequestClassified,
    SupportRequest,
)
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, REQUEST_CLASSIFIED
from supportbus_retriever.app import build_app
from supportbus_retriever.errors import IndexUnavailable, KnowledgeBaseError
from supportbus_retriever.kb import load_articles
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.service import RetrievalService
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.testing import HashingEmbedder, record_topic

ARTICLES = {
    "kb-lost-card": (
        "Lost or stolen card",
        ["lost_or_stolen_card"],
        "## Freeze it\nIf your card is lost or stolen, freeze the card in the app.\n\n"
        "## Order a replacement\nOrder a replacement card from the cards screen.",
    ),
    "kb-card-delivery": (
        "When will my card arrive",
        ["card_arrival"],
        "## Delivery times\nCards arrive by post within 3 to 5 working days.\n\n"
        "## Tracking\nTrack delivery of your card in the app.",
    ),
    "kb-exchange": (
        "Exchange rates",
        ["exchange_rate"],
        "## Our rates\nWe exchange currency at the interbank exchange rate on weekdays.",
    ),
}


def _write_kb(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for article_id, (title, intents, body) in ARTICLES.items():
        (directory / f"{article_id}.md").write_text(
            f"---\nid: {article_id}\ntitle: {title}\ncategory: cards\n"
            f"intents: {intents}\n---\n{body}\n"
        )
    return directory


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    LlamaIndexKnowledgeIndex.build(kb_dir, index_dir, embedder=HashingEmbedder())
    return kb_dir, index_dir


def test_persisted_index_finds_the_article_that_answers(built: tuple[Path, Path]) -> None:
    kb_dir, index_dir = built
    index = LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)
    hits = index.search("my card was stolen, freeze it", 2)
    assert hits[0].article_id == "kb-lost-card"
    assert hits[0].intents == ("lost_or_stolen_card",)
    assert len({h.article_id for h in hits}) == len(hits) == 2
    assert "freeze" in hits[0].snippet.lower()


def test_index_is_stale_when_an_article_changes(built: tuple[Path, Path]) -> None:
    kb_dir, index_dir = built
    (kb_dir / "kb-exchange.md").write_text(
        "---\nid: kb-exchange\ntitle: Rates\nintents: [exchange_rate]\n---\nChanged.\n"
    )
    with pytest.raises(IndexUnavailable, match="supportbus index build"):
        LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)


def test_missing_index_refuses_start(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="no knowledge index"):
        LlamaIndexKnowledgeIndex.load(tmp_path, embedder=HashingEmbedder())


def test_article_without_intents_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "kb-x.md").write_text("---\nid: kb-x\ntitle: X\n---\nbody\n")
    with pytest.raises(KnowledgeBaseError, match="intents"):
        load_articles(tmp_path)


class StaticIndex:
    def __init__(self, hits: list[ArticleHit]) -> None:
        self.hits = hits

    def search(self, query: str, k: int) -> list[ArticleHit]:
        return self.hits[:k]


def _classification(intent: str, confidence: float = 0.9) -> Classification:
    return Classification(
        category="cards",
        intent=intent,
        priority="normal",
        confidence=confidence,
        summary="s",
        model="m",
    )


def _hits() -> list[ArticleHit]:
    return [
        ArticleHit("kb-a", "A", ("x",), "a", 0.60),
        ArticleHit("kb-b", "B", ("y",), "b", 0.55),
        ArticleHit("kb-c", "C", ("card_arrival",), "c", 0.50),
    ]


def test_articles_tagged_with_the_classified_intent_are_promoted() -> None:
    service = RetrievalService(
        StaticIndex(_hits()), top_k=2, kb_base_url="https://kb/", intent_boost=0.15
    )
    request = SupportRequest(channel="chat", customer_id="c", body="where is my card")
    articles = service.retrieve(request, _classification("card_arrival"))
    assert [a.article_id for a in articles] == ["kb-c", "kb-a"]
    assert articles[0].url == "https://kb/kb-c"


def test_an_unsure_classification_does_not_reorder_articles() -> None:
    service = RetrievalService(
        StaticIndex(_hits()),
        top_k=2,
        kb_base_url="https://kb",
        intent_boost=0.15,
        boost_min_confidence=0.5,
    )
    request = SupportRequest(channel="chat", customer_id="c", body="where is my card")
    articles = service.retrieve(request, _classification("card_arrival", confidence=0.2))
    assert [a.article_id for a in articles] == ["kb-a", "kb-b"]


async def test_classified_request_is_published_with_articles(built: tuple[Path, Path]) -> None:
    kb_dir, index_dir = built
    index = LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)
    service_app = build_app(RetrieverSettings(top_k=2), index=index)
    out = record_topic(service_app.broker, KNOWLEDGE_RETRIEVED)
    event = RequestClassified(
        request_id="req-5",
        request=SupportRequest(
            channel="web", customer_id="c", body="When does my card arrive by post?"
        ),
        classification=_classification("card_arrival"),
    )
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(event.model_dump_json().encode(), REQUEST_CLASSIFIED)
    retrieved = KnowledgeRetrieved.model_validate_json(out[0].body)
    assert retrieved.articles[0].article_id == "kb-card-delivery"
    assert len(retrieved.articles) == 2
    assert retrieved.classification == event.classification
