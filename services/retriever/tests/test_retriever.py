from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from faststream.kafka import TestKafkaBroker

from supportbus_contracts import (
    Classification,
    KnowledgeRetrieved,
    QueryEmbedding,
    RequestClassified,
    SupportRequest,
)
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, REQUEST_CLASSIFIED
from supportbus_devtools.testing import HashingEmbedder, classification, record_topic
from supportbus_devtools.testing_spans import recorded_spans, spans_of_trace
from supportbus_retriever.app import build_app
from supportbus_retriever.errors import IndexUnavailable, KnowledgeBaseError
from supportbus_retriever.kb import load_articles
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.service import RetrievalService
from supportbus_retriever.settings import RetrieverSettings

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


def test_serving_ranks_like_llama_index_over_the_same_vectors(built: tuple[Path, Path]) -> None:
    """The snapshot the retriever serves from gives LlamaIndex's own exact ranking."""
    from llama_index.core import StorageContext, load_index_from_storage
    from llama_index.core.vector_stores import VectorStoreQuery

    from supportbus_retriever.chunking import LlamaEmbeddingAdapter

    kb_dir, index_dir = built
    embedder = HashingEmbedder()
    storage = StorageContext.from_defaults(persist_dir=str(index_dir))
    llama = load_index_from_storage(storage, embed_model=LlamaEmbeddingAdapter(embedder))
    ours = LlamaIndexKnowledgeIndex.load(index_dir, embedder=embedder, kb_dir=kb_dir)
    for query in ("my card was stolen, freeze it", "what is the exchange rate"):
        vector = embedder.embed([query])[0].tolist()
        found = llama.vector_store.query(  # type: ignore[attr-defined]
            VectorStoreQuery(query_embedding=vector, similarity_top_k=3)
        )
        nodes = llama.docstore.get_nodes(found.ids)
        expected = [
            (n.metadata["article_id"], round(sc, 5))
            for n, sc in zip(nodes, found.similarities, strict=True)
        ]
        got = [(h.article_id, round(h.score, 5)) for h in ours._chunks.top(vector, 3)]
        # Chunks that tie at 0 (the hashing embedder shares no word with them) may come in any
        # order: compare the ranking of the ones that match.
        expected = [e for e in expected if e[1] > 0]
        got = [g for g in got if g[1] > 0]
        assert expected
        assert got == expected, query


def test_serving_needs_no_llama_index_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, supportbus_retriever.app; "
        "print(any(m == 'llama_index' or m.startswith('llama_index.') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_an_index_without_its_serving_snapshot_refuses_start(built: tuple[Path, Path]) -> None:
    kb_dir, index_dir = built
    (index_dir / "supportbus-chunks.npy").unlink()
    with pytest.raises(IndexUnavailable, match="unreadable"):
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
        self.embedder = HashingEmbedder()

    def search(self, query: str, k: int) -> list[ArticleHit]:
        return self.hits[:k]

    async def search_by_vector(
        self, query: str, vector: Sequence[float], k: int
    ) -> list[ArticleHit]:
        return self.hits[:k]


def _classification(intent: str, confidence: float = 0.9) -> Classification:
    return classification(intent, confidence=confidence)


def _hits() -> list[ArticleHit]:
    return [
        ArticleHit("kb-a", "A", ("x",), "a", 0.60),
        ArticleHit("kb-b", "B", ("y",), "b", 0.55),
        ArticleHit("kb-c", "C", ("card_arrival",), "c", 0.50),
    ]


async def test_articles_tagged_with_the_classified_intent_are_promoted() -> None:
    service = RetrievalService(
        StaticIndex(_hits()), top_k=2, kb_base_url="https://kb/", intent_boost=0.15
    )
    request = SupportRequest(channel="chat", customer_id="c", body="where is my card")
    articles = await service.retrieve(request, _classification("card_arrival"))
    assert [a.article_id for a in articles] == ["kb-c", "kb-a"]
    assert articles[0].url == "https://kb/kb-c"


async def test_an_unsure_classification_does_not_reorder_articles() -> None:
    service = RetrievalService(
        StaticIndex(_hits()),
        top_k=2,
        kb_base_url="https://kb",
        intent_boost=0.15,
        boost_min_confidence=0.5,
    )
    request = SupportRequest(channel="chat", customer_id="c", body="where is my card")
    articles = await service.retrieve(request, _classification("card_arrival", confidence=0.2))
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


async def test_a_redelivered_classified_request_yields_a_byte_identical_retrieved_event(
    built: tuple[Path, Path],
) -> None:
    kb_dir, index_dir = built
    embedder = HashingEmbedder()
    index = LlamaIndexKnowledgeIndex.load(index_dir, embedder=embedder, kb_dir=kb_dir)
    service_app = build_app(RetrieverSettings(top_k=2), index=index)
    out = record_topic(service_app.broker, KNOWLEDGE_RETRIEVED)
    request = SupportRequest(channel="web", customer_id="c", body="My card was stolen, freeze it")
    offered = _offered(embedder, request.query_text())
    records = [
        RequestClassified(
            request_id=f"req-{n}",
            request=request,
            classification=_classification("lost_or_stolen_card"),
            query_embedding=embedding,
        )
        .model_dump_json()
        .encode()
        for n, embedding in enumerate([offered, None])  # reused, and embedded here
    ]
    async with TestKafkaBroker(service_app.broker) as broker:
        for record in records:
            await broker.publish(record, REQUEST_CLASSIFIED)
            await asyncio.sleep(0.01)  # handled again later, as after a crash
            await broker.publish(record, REQUEST_CLASSIFIED)
    assert len(out) == 4
    assert out[1].body == out[0].body
    assert out[3].body == out[2].body


DELIVERY_QUESTION = SupportRequest(
    channel="web", customer_id="c", subject="Card", body="When does my card arrive by post?"
)


def _offered(embedder: HashingEmbedder, text: str, *, model: str | None = None) -> QueryEmbedding:
    vector = np.round(embedder.embed([text])[0].astype(np.float64), 6).tolist()
    return QueryEmbedding(model=model or embedder.name, vector=vector)


def _service(index_dir: Path, kb_dir: Path, embedder: HashingEmbedder) -> RetrievalService:
    index = LlamaIndexKnowledgeIndex.load(index_dir, embedder=embedder, kb_dir=kb_dir)
    return RetrievalService(index, top_k=1, kb_base_url="https://kb", batch_wait_ms=1)


async def test_an_embedding_from_the_same_model_is_used_without_embedding_again(
    built: tuple[Path, Path],
) -> None:
    kb_dir, index_dir = built
    embedder = HashingEmbedder()
    service = _service(index_dir, kb_dir, embedder)
    offered = _offered(embedder, DELIVERY_QUESTION.query_text())
    calls = embedder.calls
    articles = await service.retrieve(DELIVERY_QUESTION, _classification("x", 0.1), offered)
    assert embedder.calls == calls
    assert [a.article_id for a in articles] == ["kb-card-delivery"]
    await service.aclose()


@pytest.mark.parametrize("mismatch", ["model", "dimension"])
async def test_an_embedding_from_another_model_or_of_another_length_is_ignored(
    built: tuple[Path, Path], mismatch: str
) -> None:
    kb_dir, index_dir = built
    embedder = HashingEmbedder()
    service = _service(index_dir, kb_dir, embedder)
    # A vector that would find the exchange article, were it used.
    if mismatch == "model":
        offered = _offered(embedder, "exchange rate euros", model="other/embedding-model")
    else:
        offered = _offered(
            HashingEmbedder(dimension=128), "exchange rate euros", model=embedder.name
        )
    calls = embedder.calls
    articles = await service.retrieve(DELIVERY_QUESTION, _classification("x", 0.1), offered)
    assert embedder.calls == calls + 1
    assert [a.article_id for a in articles] == ["kb-card-delivery"]
    await service.aclose()


async def test_concurrent_requests_are_embedded_in_one_call_and_match_the_blocking_search(
    built: tuple[Path, Path],
) -> None:
    kb_dir, index_dir = built
    embedder = HashingEmbedder()
    service = _service(index_dir, kb_dir, embedder)
    bodies = ["my card was stolen", "when will my card arrive", "what exchange rate", "freeze"]
    requests = [SupportRequest(channel="chat", customer_id="c", body=b) for b in bodies]
    index = LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)
    blocking = [index.search(b, 1)[0].article_id for b in bodies]
    calls = embedder.calls
    found = await asyncio.gather(
        *(service.retrieve(r, _classification("x", 0.1)) for r in requests)
    )
    assert embedder.calls == calls + 1
    assert [articles[0].article_id for articles in found] == blocking
    await service.aclose()


async def test_each_request_traces_its_embedding_and_vector_search_inside_retrieve_articles(
    built: tuple[Path, Path],
) -> None:
    spans = recorded_spans()
    kb_dir, index_dir = built
    embedder = HashingEmbedder()
    index = LlamaIndexKnowledgeIndex.load(index_dir, embedder=embedder, kb_dir=kb_dir)
    service_app = build_app(RetrieverSettings(top_k=2), index=index)
    events = [
        RequestClassified(
            request_id=f"req-{n}",
            request=DELIVERY_QUESTION,
            classification=_classification("card_arrival"),
            query_embedding=offered,
        )
        for n, offered in ((1, None), (2, _offered(embedder, DELIVERY_QUESTION.query_text())))
    ]
    reused = []
    async with TestKafkaBroker(service_app.broker) as broker:
        for event in events:
            await broker.publish(event.model_dump_json().encode(), REQUEST_CLASSIFIED)
            trace = spans_of_trace(spans, "retrieve_articles")
            (parent,) = [s for s in trace if s.name == "retrieve_articles"]
            assert parent.context is not None
            children = {
                s.name: s
                for s in trace
                if s.parent is not None and s.parent.span_id == parent.context.span_id
            }
            assert {"embed", "vector_search"} <= children.keys()
            attributes = children["embed"].attributes or {}
            reused.append(attributes["supportbus.embedding_reused"])
    assert reused == [False, True]
