"""The retriever's Weaviate store on a real Weaviate server: ingest of the real knowledge base is
idempotent and incremental, vector and hybrid search find the article that answers, the service
publishes what Weaviate found, and an unreachable server is a transient error."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import weaviate
from faststream.kafka import TestKafkaBroker
from llama_index.core import VectorStoreIndex
from llama_index.vector_stores.weaviate import WeaviateVectorStore
from typer.testing import CliRunner
from weaviate.classes.query import Filter, MetadataQuery

from supportbus_cli import kb_command
from supportbus_cli.retrieval_eval import retrieval_eval
from supportbus_cli.settings import CliSettings
from supportbus_contracts import (
    Classification,
    KnowledgeRetrieved,
    RequestClassified,
    SupportRequest,
)
from supportbus_contracts.topics import KNOWLEDGE_RETRIEVED, REQUEST_CLASSIFIED
from supportbus_devtools.localweaviate import (
    LocalWeaviate,
    LocalWeaviateConfig,
    WeaviateEndpoint,
    find_free_port,
)
from supportbus_devtools.testing import HashingEmbedder, record_topic
from supportbus_retriever.app import build_app, build_index
from supportbus_retriever.chunking import LlamaEmbeddingAdapter, chunk_articles
from supportbus_retriever.errors import IndexUnavailable, VectorStoreUnavailable
from supportbus_retriever.kb import load_articles
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.settings import RetrieverSettings
from supportbus_retriever.weaviate_store import SearchMode, WeaviateKnowledgeIndex, connect
from supportbus_runtime.embedding import MiniLMEmbedder, TextEmbedder
from supportbus_runtime.errors import ConfigurationError

pytestmark = pytest.mark.integration

KB_DIR = RetrieverSettings().kb_dir
EDITED = "kb-activate-card"


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """The real knowledge base, in a folder the test may change."""
    return Path(shutil.copytree(KB_DIR, tmp_path / "kb"))


@pytest.fixture
def client(weaviate_server: WeaviateEndpoint) -> Iterator[weaviate.WeaviateClient]:
    """A client of its own, to check what the store wrote without going through it."""
    own = connect(weaviate_server.url, weaviate_server.grpc_port)
    yield own
    own.close()


def _index(
    endpoint: WeaviateEndpoint,
    *,
    mode: SearchMode = "hybrid",
    embedder: TextEmbedder | None = None,
    collection: str | None = None,
) -> WeaviateKnowledgeIndex:
    return WeaviateKnowledgeIndex.connect(
        url=endpoint.url,
        grpc_port=endpoint.grpc_port,
        collection=collection or f"Test{uuid.uuid4().hex[:12]}",
        embedder=embedder or HashingEmbedder(),
        mode=mode,
    )


@pytest.fixture
def index(weaviate_server: WeaviateEndpoint) -> Iterator[WeaviateKnowledgeIndex]:
    """A store on a collection of its own, dropped afterwards."""
    store = _index(weaviate_server)
    yield store
    store.drop_collection()
    store.close()


def _stored(client: weaviate.WeaviateClient, collection: str) -> dict[str, dict[str, Any]]:
    """uuid -> article id, content hash and last update time of every stored object."""
    return {
        str(obj.uuid): {
            "article_id": obj.properties["article_id"],
            "content_hash": obj.properties["content_hash"],
            "updated": obj.metadata.last_update_time,
        }
        for obj in client.collections.get(collection).iterator(
            return_properties=["article_id", "content_hash"],
            return_metadata=MetadataQuery(last_update_time=True),
        )
    }


def test_ingest_stores_one_object_per_chunk_of_the_knowledge_base(
    index: WeaviateKnowledgeIndex, client: weaviate.WeaviateClient
) -> None:
    articles = load_articles(KB_DIR)
    report = index.ingest(articles)
    assert report.articles == len(articles) == 73
    assert report.added == report.chunks > len(articles)
    assert (report.updated, report.deleted, report.unchanged) == (0, 0, 0)
    stored = _stored(client, index.collection_name)
    assert len(stored) == report.chunks == index.count()
    assert {s["article_id"] for s in stored.values()} == {a.article_id for a in articles}


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stolen card", "kb-lost-or-stolen-card"),
        ("how long do transfers take", "kb-transfer-times"),
    ],
)
def test_search_finds_the_article_that_answers_an_obvious_query(
    weaviate_server: WeaviateEndpoint, mode: SearchMode, query: str, expected: str
) -> None:
    with _index(weaviate_server, mode=mode) as store:
        try:
            store.ingest(load_articles(KB_DIR))
            hits = store.search(query, 3)
        finally:
            store.drop_collection()
    assert hits[0].article_id == expected
    assert len({h.article_id for h in hits}) == len(hits) == 3
    assert hits[0].score > hits[-1].score
    assert hits[0].snippet
    assert "**" not in hits[0].snippet


def test_vector_mode_ranks_and_scores_like_the_local_store(
    weaviate_server: WeaviateEndpoint, tmp_path: Path
) -> None:
    """Same chunks, same vectors, cosine similarity: only the store differs."""
    local = LlamaIndexKnowledgeIndex.build(
        KB_DIR, tmp_path / "index", embedder=HashingEmbedder(), mode="vector"
    )
    with _index(weaviate_server, mode="vector") as store:
        try:
            store.ingest(load_articles(KB_DIR))
            for query in ("stolen card", "exchange rate on weekends", "top up failed"):
                ours, theirs = store.search(query, 5), local.search(query, 5)
                assert [h.article_id for h in ours] == [h.article_id for h in theirs]
                assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-4)
        finally:
            store.drop_collection()


def test_the_collection_is_readable_as_a_llama_index_vector_store(
    index: WeaviateKnowledgeIndex, client: weaviate.WeaviateClient
) -> None:
    index.ingest(load_articles(KB_DIR))
    store = WeaviateVectorStore(weaviate_client=client, index_name=index.collection_name)
    retriever = VectorStoreIndex.from_vector_store(
        store, embed_model=LlamaEmbeddingAdapter(HashingEmbedder())
    ).as_retriever(similarity_top_k=3)
    [best, *_] = retriever.retrieve("stolen card")
    assert best.node.metadata["article_id"] == "kb-lost-or-stolen-card"
    assert "stolen" in best.node.get_content().lower()


def test_ingesting_again_changes_nothing_and_says_so(
    index: WeaviateKnowledgeIndex, client: weaviate.WeaviateClient
) -> None:
    articles = load_articles(KB_DIR)
    first = index.ingest(articles)
    before = _stored(client, index.collection_name)

    again = index.ingest(articles)

    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    assert again.unchanged == first.chunks
    assert again.changed_articles == ()
    assert _stored(client, index.collection_name) == before  # same ids, hashes, update times


def _edit(kb_dir: Path, article_id: str, old: str, new: str) -> None:
    path = kb_dir / f"{article_id}.md"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_editing_one_article_rewrites_only_its_changed_chunks(
    index: WeaviateKnowledgeIndex, client: weaviate.WeaviateClient, kb_copy: Path
) -> None:
    index.ingest(load_articles(kb_copy))
    before = _stored(client, index.collection_name)
    _edit(kb_copy, EDITED, "Tap **Activate card**.", "Tap **Activate card** and wait a moment.")

    report = index.ingest(load_articles(kb_copy))

    after = _stored(client, index.collection_name)
    assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    assert report.changed_articles == (EDITED,)
    assert after.keys() == before.keys()
    rewritten = {i for i in after if after[i] != before[i]}
    assert len(rewritten) == 1
    assert {after[i]["article_id"] for i in rewritten} == {EDITED}
    hit = index.search("activate card and wait a moment", 1)[0]
    assert hit.article_id == EDITED


def test_shortening_an_article_deletes_its_surplus_chunks(
    index: WeaviateKnowledgeIndex, client: weaviate.WeaviateClient, kb_copy: Path
) -> None:
    index.ingest(load_articles(kb_copy))
    before = _stored(client, index.collection_name)
    path = kb_copy / f"{EDITED}.md"
    path.write_text(path.read_text().split("## If activation does not work")[0])

    report = index.ingest(load_articles(kb_copy))

    assert report.deleted == 2  # "If activation does not work" and "Common questions"
    assert report.added == 0
    assert report.changed_articles == (EDITED,)
    assert index.count() == len(before) - 2


def test_deleting_an_article_removes_all_its_chunks(
    index: WeaviateKnowledgeIndex, client: weaviate.WeaviateClient, kb_copy: Path
) -> None:
    index.ingest(load_articles(kb_copy))
    before = _stored(client, index.collection_name)
    own_chunks = sum(1 for s in before.values() if s["article_id"] == EDITED)
    (kb_copy / f"{EDITED}.md").unlink()

    report = index.ingest(load_articles(kb_copy))

    assert report.deleted == own_chunks > 1
    assert (report.added, report.updated) == (0, 0)
    remaining = client.collections.get(index.collection_name).query.fetch_objects(
        filters=Filter.by_property("article_id").equal(EDITED), limit=10
    )
    assert remaining.objects == []
    assert EDITED not in {h.article_id for h in index.search("activate my new card", 5)}


def _classification(intent: str) -> Classification:
    return Classification(
        category="cards",
        intent=intent,
        priority="normal",
        confidence=0.9,
        summary="s",
        model="m",
    )


async def test_retriever_service_publishes_the_articles_weaviate_found(
    index: WeaviateKnowledgeIndex,
) -> None:
    index.ingest(load_articles(KB_DIR))
    service_app = build_app(RetrieverSettings(top_k=2, intent_boost=0.0), index=index)
    out = record_topic(service_app.broker, KNOWLEDGE_RETRIEVED)
    event = RequestClassified(
        request_id="req-weaviate-1",
        request=SupportRequest(
            channel="chat", customer_id="c", body="The ATM swallowed my card, what now?"
        ),
        classification=_classification("card_swallowed"),
    )
    async with TestKafkaBroker(service_app.broker) as broker:
        await broker.publish(event.model_dump_json().encode(), REQUEST_CLASSIFIED)
    [record] = out
    retrieved = KnowledgeRetrieved.model_validate_json(record.body)
    assert retrieved.request_id == "req-weaviate-1"
    assert retrieved.articles[0].article_id == "kb-card-swallowed-atm"
    assert len(retrieved.articles) == 2
    assert str(retrieved.articles[0].url).endswith("/kb-card-swallowed-atm")


def test_unreachable_server_at_query_time_is_a_transient_error(tmp_path: Path) -> None:
    server = LocalWeaviate(
        LocalWeaviateConfig(
            data_dir=tmp_path / "weaviate",
            cache_dir=CliSettings().cache_dir,
            http_port=0,
            grpc_port=0,
        )
    )
    server.start()
    try:
        store = WeaviateKnowledgeIndex.connect(
            url=server.url,
            grpc_port=server.grpc_port,
            collection="Refused",
            embedder=HashingEmbedder(),
            timeout_s=3,
        )
        store.ingest(load_articles(KB_DIR)[:3])
        assert store.search("card", 1)
    finally:
        server.stop()  # from here on, connections are refused

    # A refused connection is "unavailable, retry later", never "rejected": the delivery
    # policy then backs off. (That the wait is bounded by the query deadline, not the
    # client's own minute of retries, is shown against a fake in test_weaviate_search.py.)
    with pytest.raises(VectorStoreUnavailable) as raised:
        store.search("card", 1)
    store.close()
    assert isinstance(raised.value.__cause__, TimeoutError | weaviate.exceptions.WeaviateBaseError)


def test_service_refuses_to_start_on_a_missing_collection(
    weaviate_server: WeaviateEndpoint,
) -> None:
    settings = RetrieverSettings(
        store="weaviate",
        weaviate_url=weaviate_server.url,
        weaviate_grpc_port=weaviate_server.grpc_port,
        weaviate_collection=f"Missing{uuid.uuid4().hex[:8]}",
    )
    with pytest.raises(IndexUnavailable, match=r"does not exist: run `supportbus kb ingest"):
        build_index(settings, HashingEmbedder())


def test_service_refuses_to_start_on_an_empty_collection(
    index: WeaviateKnowledgeIndex, weaviate_server: WeaviateEndpoint
) -> None:
    index.ensure_collection()
    settings = RetrieverSettings(
        store="weaviate",
        weaviate_url=weaviate_server.url,
        weaviate_grpc_port=weaviate_server.grpc_port,
        weaviate_collection=index.collection_name,
    )
    with pytest.raises(IndexUnavailable, match=r"is empty: run `supportbus kb ingest"):
        build_index(settings, HashingEmbedder())


def test_service_refuses_to_start_when_weaviate_is_unreachable() -> None:
    settings = RetrieverSettings(
        store="weaviate",
        weaviate_url=f"http://127.0.0.1:{find_free_port()}",
        weaviate_grpc_port=find_free_port(),
        weaviate_timeout_s=2,
    )
    with pytest.raises(IndexUnavailable, match="cannot connect to Weaviate"):
        build_index(settings, HashingEmbedder())


def _minilm() -> MiniLMEmbedder:
    settings = CliSettings()
    return MiniLMEmbedder(settings.resolved_model_path(settings.shared_dir))


@pytest.fixture(scope="module")
def minilm_hybrid(weaviate_server: WeaviateEndpoint) -> Iterator[WeaviateKnowledgeIndex]:
    store = _index(weaviate_server, embedder=_minilm(), mode="hybrid")
    store.ingest(load_articles(KB_DIR))
    yield store
    store.drop_collection()
    store.close()


@pytest.mark.model
@pytest.mark.parametrize(
    ("question", "article_id"),
    [
        ("How do I activate the new card you sent me?", "kb-activate-card"),
        ("The cash machine kept my card and didn't give it back", "kb-card-swallowed-atm"),
        ("Why was I charged an extra fee when I paid in euros abroad?", "kb-card-payment-fees"),
        ("How long does it take for a transfer to reach another bank?", "kb-transfer-times"),
    ],
)
def test_hybrid_search_with_minilm_answers_realistic_questions(
    minilm_hybrid: WeaviateKnowledgeIndex, question: str, article_id: str
) -> None:
    hits = minilm_hybrid.search(question, 3)
    assert hits[0].article_id == article_id, [(h.article_id, round(h.score, 3)) for h in hits]


def test_kb_ingest_command_reports_what_it_did_and_is_idempotent(
    weaviate_server: WeaviateEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection = f"Cli{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("RETRIEVER_WEAVIATE_URL", weaviate_server.url)
    monkeypatch.setenv("RETRIEVER_WEAVIATE_GRPC_PORT", str(weaviate_server.grpc_port))
    monkeypatch.setenv("RETRIEVER_WEAVIATE_COLLECTION", collection)
    monkeypatch.setattr(kb_command.artifacts, "embedder_for", lambda _settings: HashingEmbedder())
    cli = typer.Typer()
    cli.callback()(lambda: None)
    kb_command.register(cli)
    try:
        first = CliRunner().invoke(cli, ["kb", "ingest", "--store", "weaviate"])
        again = CliRunner().invoke(cli, ["kb", "ingest", "--store", "weaviate"])
    finally:
        with _index(weaviate_server, collection=collection) as store:
            store.drop_collection()
    chunks = len(chunk_articles(load_articles(KB_DIR)))
    assert first.exit_code == 0, first.output
    assert (
        f"73 articles as {chunks} chunks: {chunks} added, 0 updated, 0 deleted, 0 unchanged"
        in " ".join(first.output.split())
    )
    assert again.exit_code == 0, again.output
    assert f"0 added, 0 updated, 0 deleted, {chunks} unchanged" in " ".join(again.output.split())


def test_retrieval_eval_on_weaviate_vector_matches_local_and_leaves_nothing_behind(
    weaviate_server: WeaviateEndpoint, tmp_path: Path, client: weaviate.WeaviateClient
) -> None:
    test_csv = tmp_path / "test.csv"
    test_csv.write_text(
        "text,category\n"
        "my card was stolen,lost_or_stolen_card\n"
        "how long does a transfer take,transfer_timing\n"
        "the atm swallowed my card,card_swallowed\n"
        "what exchange rate do you use,exchange_rate\n"
    )
    settings = RetrieverSettings(
        weaviate_url=weaviate_server.url,
        weaviate_grpc_port=weaviate_server.grpc_port,
        weaviate_collection="EvalProbe",
    )
    before = set(client.collections.list_all())
    local = retrieval_eval(
        test_csv, settings=settings, embedder=HashingEmbedder(), store="local", mode="vector"
    )
    remote = retrieval_eval(
        test_csv, settings=settings, embedder=HashingEmbedder(), store="weaviate", mode="vector"
    )
    assert (local["store"], local["mode"]) == ("local", "vector")
    assert (remote["store"], remote["mode"]) == ("weaviate", "vector")
    metrics = ("recall_at_1", "recall_at_k", "mrr")
    assert [remote[m] for m in metrics] == [local[m] for m in metrics]
    assert float(local["recall_at_k"]) > 0
    assert set(client.collections.list_all()) == before  # the scratch collection is gone
    with pytest.raises(ConfigurationError, match="hybrid needs --store weaviate"):
        retrieval_eval(
            test_csv, settings=settings, embedder=HashingEmbedder(), store="local", mode="hybrid"
        )
