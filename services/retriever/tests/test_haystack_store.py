"""RETRIEVER_STORE=haystack: the Haystack pipeline over the real knowledge base with the real
MiniLM model (``model`` marker), checked against the local store, and its configuration."""

from __future__ import annotations

import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supportbus_cli.retrieval_eval import resolve_store_and_modes
from supportbus_contracts import SupportRequest
from supportbus_devtools.testing import HashingEmbedder, classification
from supportbus_retriever.app import build_index
from supportbus_retriever.chunking import chunk_articles
from supportbus_retriever.errors import IndexUnavailable, SearchModeUnsupported, StoreExtraMissing
from supportbus_retriever.haystack_store import HaystackFusion, HaystackKnowledgeIndex, HaystackMode
from supportbus_retriever.hits import snippet
from supportbus_retriever.kb import load_articles
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.ports import ArticleHit
from supportbus_retriever.service import RetrievalService
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.embedding import MiniLMEmbedder
from supportbus_runtime.errors import ConfigurationError

KB_DIR = Path(__file__).resolve().parents[3] / "data" / "kb"
MODES: list[HaystackMode] = ["fused", "vector", "lexical"]
QUESTIONS = [
    ("How do I activate the new card you sent me?", "kb-activate-card"),
    ("The cash machine kept my card and didn't give it back", "kb-card-swallowed-atm"),
    ("How long does it take for a transfer to reach another bank?", "kb-transfer-times"),
]


def _model_path() -> Path | None:
    settings = RetrieverSettings()
    return settings.resolved_model_path(settings.shared_dir)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(_model_path())


@pytest.fixture(scope="module")
def haystack(minilm: MiniLMEmbedder) -> Iterator[HaystackKnowledgeIndex]:
    index = HaystackKnowledgeIndex.build(KB_DIR, embedder=minilm, model_path=_model_path())
    yield index
    index.close()


@pytest.fixture(scope="module")
def local(minilm: MiniLMEmbedder) -> Iterator[LlamaIndexKnowledgeIndex]:
    """The local store over the same articles, without question expansion."""
    with tempfile.TemporaryDirectory() as scratch:
        yield LlamaIndexKnowledgeIndex.build(KB_DIR, Path(scratch), embedder=minilm)


def _ranked(hits: list[ArticleHit]) -> list[tuple[str, float]]:
    return [(h.article_id, round(h.score, 4)) for h in hits]


@pytest.mark.model
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("question", "article_id"), QUESTIONS)
def test_a_customer_question_retrieves_the_article_that_answers_it_first(
    haystack: HaystackKnowledgeIndex, mode: HaystackMode, question: str, article_id: str
) -> None:
    hits = haystack.with_mode(mode).search(question, 3)
    assert hits[0].article_id == article_id, _ranked(hits)


@pytest.mark.model
@pytest.mark.parametrize("mode", MODES)
def test_hits_are_distinct_articles_shown_by_their_own_sections(
    haystack: HaystackKnowledgeIndex, mode: HaystackMode
) -> None:
    articles = load_articles(KB_DIR)
    by_id = {a.article_id: a for a in articles}
    sections: dict[str, set[str]] = {}
    for node in chunk_articles(articles):
        sections.setdefault(node.metadata["article_id"], set()).add(snippet(node.get_content()))
    hits = haystack.with_mode(mode).search("I lost my card, can you block it?", 5)
    assert len(hits) == len({h.article_id for h in hits}) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        article = by_id[hit.article_id]
        assert (hit.title, hit.intents) == (article.title, article.intents)
        assert hit.snippet in sections[hit.article_id]


@pytest.mark.model
def test_vector_mode_ranks_as_the_local_stores_vector_mode(
    haystack: HaystackKnowledgeIndex, local: LlamaIndexKnowledgeIndex
) -> None:
    """Same chunks, embedded as the same text by the same model: same articles, same cosines,
    in the same shape."""
    for question, _ in [*QUESTIONS, ("why was I charged a fee abroad", "")]:
        ours = haystack.with_mode("vector").search(question, 5)
        theirs = local.with_mode("vector").search(question, 5)
        assert _ranked(ours) == _ranked(theirs), question
        assert [(h.title, h.intents) for h in ours] == [(h.title, h.intents) for h in theirs]
        assert all(type(a) is type(b) is ArticleHit for a, b in zip(ours, theirs, strict=True))


@pytest.mark.model
def test_fused_places_keep_the_vector_sides_cosines(haystack: HaystackKnowledgeIndex) -> None:
    """The joiner orders, the vector side's cosines score: the intent lift keeps its scale."""
    question = "my card payment was declined in a shop"
    fused = haystack.search(question, 3)
    vector = haystack.with_mode("vector").search(question, 3)
    assert [h.score for h in fused] == [h.score for h in vector]


@pytest.mark.model
@pytest.mark.parametrize(("weights", "like"), [((1.0, 0.0), "vector"), ((0.0, 1.0), "lexical")])
def test_the_joiner_weighs_each_retrievers_list_by_its_own_weight(
    haystack: HaystackKnowledgeIndex,
    minilm: MiniLMEmbedder,
    weights: tuple[float, float],
    like: HaystackMode,
) -> None:
    """Haystack hands the joiner its lists in the order the retrievers ran: a weight of 0 on
    one side leaves the other side's ranking, on both search paths."""
    vector_weight, lexical_weight = weights
    fusion = HaystackFusion(vector_weight=vector_weight, lexical_weight=lexical_weight)
    weighted = HaystackKnowledgeIndex(
        haystack._store, minilm, haystack._model, mode="fused", fusion=fusion
    )
    for question in ("my card was stolen, what do I do", "why was I charged a fee abroad"):
        expected = [h.article_id for h in haystack.with_mode(like).search(question, 5)]
        assert [h.article_id for h in weighted.search(question, 5)] == expected, question


@pytest.mark.model
async def test_search_by_vector_answers_as_search_does_on_the_stores_own_thread(
    haystack: HaystackKnowledgeIndex, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = QUESTIONS[0][0]
    expected = _ranked(haystack.search(question, 3))
    threads: list[str] = []
    pipeline = haystack._pipeline
    run = pipeline.run

    def recorded(*args: Any, **kwargs: Any) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return run(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run", recorded)
    vector = minilm.embed([question])[0].tolist()
    assert _ranked(await haystack.search_by_vector(question, vector, 3)) == expected
    assert len(threads) == 1
    assert threads[0].startswith("haystack"), threads


@pytest.mark.model
async def test_the_service_publishes_haystack_hits_with_the_intent_lift(
    haystack: HaystackKnowledgeIndex,
) -> None:
    service = RetrievalService(haystack, top_k=2, kb_base_url="https://kb", intent_boost=0.15)
    request = SupportRequest(channel="chat", customer_id="c", body="where is my new card")
    try:
        articles = await service.retrieve(request, classification("card_arrival"))
    finally:
        await service.aclose()
    assert articles[0].article_id == "kb-card-delivery-times"
    assert articles[0].url == "https://kb/kb-card-delivery-times"
    assert len({a.article_id for a in articles}) == 2


def test_an_unknown_mode_is_refused_by_the_store_the_settings_and_the_evaluation() -> None:
    with pytest.raises(ValueError, match=re.escape("searches fused|vector|lexical, not 'hybrid'")):
        HaystackKnowledgeIndex(None, HashingEmbedder(), None, mode="hybrid")  # type: ignore[arg-type]
    with pytest.raises(SearchModeUnsupported, match="weaviate store's"):
        RetrieverSettings(store="haystack", search_mode="hybrid").resolved_search_mode()
    settings = RetrieverSettings(store="haystack")
    assert settings.resolved_search_mode() == "fused"
    assert resolve_store_and_modes(settings, None, ["all"]) == (
        "haystack",
        ["fused", "vector", "lexical"],
    )
    with pytest.raises(ConfigurationError, match="needs --store weaviate"):
        resolve_store_and_modes(settings, None, ["hybrid"])


def test_without_the_extra_the_store_refuses_to_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As if fastembed-haystack were not installed: its import fails.
    monkeypatch.setitem(sys.modules, "haystack_integrations.components.embedders.fastembed", None)
    with pytest.raises(StoreExtraMissing, match=r"supportbus-retriever\[haystack\]") as refused:
        build_index(RetrieverSettings(store="haystack"), HashingEmbedder())
    assert isinstance(refused.value, ConfigurationError)
    assert "RETRIEVER_STORE=haystack" in str(refused.value)


def test_an_embedder_of_another_model_is_refused() -> None:
    with pytest.raises(IndexUnavailable, match="would not be comparable"):
        HaystackKnowledgeIndex.build(KB_DIR, embedder=HashingEmbedder(), model_path=None)


def test_importing_the_store_imports_no_haystack() -> None:
    """Haystack is imported when the store is built, never by importing it (or the app)."""
    import subprocess

    code = (
        "import sys, supportbus_retriever.app, supportbus_retriever.haystack_store; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'haystack', 'llama_index'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_haystack_is_loaded_without_telemetry_tracing_or_per_run_logs() -> None:
    import os
    import subprocess

    code = (
        "import logging; from supportbus_retriever.haystack_pipeline import require_haystack; "
        "require_haystack(); from haystack.telemetry import _telemetry; "
        "from haystack.tracing import tracer; "
        "print(_telemetry.telemetry is None, type(tracer.actual_tracer).__name__, "
        "logging.getLogger('haystack').level == logging.WARNING)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAYSTACK_")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.split() == ["True", "NullTracer", "True"]
