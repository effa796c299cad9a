"""The local store's BM25 side, the rank fusion, and choosing a search mode."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from supportbus_cli.retrieval_eval import resolve_store_and_modes
from supportbus_devtools.testing import HashingEmbedder
from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.fusion import reciprocal_rank_fusion
from supportbus_retriever.kb import KbArticle
from supportbus_retriever.lexical import Analyzer, LexicalIndex, LexicalParams, build_lexical
from supportbus_retriever.llama_index_store import INDEX_FORMAT, MANIFEST, LlamaIndexKnowledgeIndex
from supportbus_retriever.settings import RetrieverSettings, check_search_mode
from supportbus_runtime.errors import ConfigurationError


def _article(article_id: str, title: str, body: str) -> KbArticle:
    return KbArticle(article_id, title, "cards", (article_id.removeprefix("kb-"),), body)


ARTICLES = [
    _article("kb-stolen", "Lost or stolen card", "## Freeze it\nFreeze the card in the app."),
    _article(
        "kb-fees",
        "Fees for payments",
        "## Fees\nCard payments abroad cost nothing.\n\n## Common questions\n\n"
        "- **Why was I charged twice?** A pending payment can show twice for a day.",
    ),
    _article("kb-topup", "Top up by transfer", "## Top up\nSend a bank transfer to your IBAN."),
]


def test_bm25_ranks_the_article_with_the_exact_word_first() -> None:
    index = build_lexical(ARTICLES, LexicalParams())
    ranking = index.ranking("what is my IBAN for a top-up", 3)
    assert ranking[0][0] == "kb-topup"
    assert all(score > 0 for _, score in ranking)


def test_stemming_matches_other_forms_of_a_word() -> None:
    index = build_lexical(ARTICLES, LexicalParams())
    assert index.ranking("stole", 3) == []  # "stole" is not "stolen", even stemmed
    assert index.ranking("they charge me", 3)[0][0] == "kb-fees"  # charge ~ charged
    assert index.ranking("my cards were stolen", 3)[0][0] == "kb-stolen"


def test_a_query_without_known_words_finds_nothing() -> None:
    index = build_lexical(ARTICLES, LexicalParams())
    assert index.ranking("zzz qqq", 3) == []
    assert index.ranking("", 3) == []


def test_serving_scores_equal_bm25s_own() -> None:
    import bm25s

    analyzer = Analyzer()
    documents = [analyzer.terms(t) for t in ("card card stolen", "fees for card", "iban top up")]
    ours = LexicalIndex.build(documents, owners=["a", "b", "c"], k1=1.2, b=0.75, analyzer=analyzer)
    theirs = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    theirs.index(documents, show_progress=False)
    for query in ("stolen card", "card card fees", "iban"):
        terms = [t for t in analyzer.terms(query) if t in theirs.vocab_dict]
        np.testing.assert_allclose(ours.document_scores(query), theirs.get_scores(terms), rtol=1e-6)


def test_lexical_index_round_trips(tmp_path: Path) -> None:
    index = build_lexical(ARTICLES, LexicalParams())
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    query = "charged twice for a card payment"
    assert loaded.ranking(query, 3) == index.ranking(query, 3)
    assert loaded.analyzer == index.analyzer


def test_rrf_adds_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=1)
    scores = dict(fused)
    assert scores == pytest.approx({"a": 1 / 2, "b": 1 / 3 + 1 / 2, "c": 1 / 4, "d": 1 / 3})
    assert [key for key, _ in fused] == ["b", "a", "d", "c"]


def test_rrf_weights_a_ranking() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=5, weights=[3.0, 1.0])
    assert [key for key, _ in fused] == ["a", "b"]
    assert fused[0][1] == pytest.approx(3 / 6 + 1 / 7)


def test_rrf_ties_are_broken_by_best_rank_then_ranking_and_never_by_order_of_input() -> None:
    # x and y tie (first in one ranking each); the first ranking's wins, whatever else is given.
    for extra in ([], ["z"]):
        fused = reciprocal_rank_fusion([["x", *extra], ["y"]], k=60)
        assert [key for key, _ in fused][:2] == ["x", "y"]
        fused = reciprocal_rank_fusion([["y", *extra], ["x"]], k=60)
        assert [key for key, _ in fused][:2] == ["y", "x"]
    assert reciprocal_rank_fusion([["p", "q"], ["q", "p"]], k=0) == reciprocal_rank_fusion(
        [["p", "q"], ["q", "p"]], k=0
    )


def test_rrf_refuses_weights_that_do_not_match() -> None:
    with pytest.raises(ValueError, match="2 weights for 1 rankings"):
        reciprocal_rank_fusion([["a"]], k=60, weights=[1.0, 1.0])


def _write_kb(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for a in ARTICLES:
        (directory / f"{a.article_id}.md").write_text(
            f"---\nid: {a.article_id}\ntitle: {a.title}\nintents: [{a.intents[0]}]\n---\n{a.body}\n"
        )
    return directory


def test_an_index_of_an_older_format_is_refused_with_the_fix(tmp_path: Path) -> None:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    LlamaIndexKnowledgeIndex.build(kb_dir, index_dir, embedder=HashingEmbedder())
    manifest = json.loads((index_dir / MANIFEST).read_text())
    (index_dir / MANIFEST).write_text(json.dumps({**manifest, "format": 2}))
    with pytest.raises(
        IndexUnavailable, match=rf"index format 2.*reads format {INDEX_FORMAT}"
    ) as raised:
        LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)
    assert "supportbus index build" in str(raised.value)


def test_an_index_without_its_bm25_files_is_refused(tmp_path: Path) -> None:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    LlamaIndexKnowledgeIndex.build(kb_dir, index_dir, embedder=HashingEmbedder())
    (index_dir / "supportbus-lexical.npz").unlink()
    with pytest.raises(IndexUnavailable, match="unreadable"):
        LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)


def test_each_local_mode_searches_its_way(tmp_path: Path) -> None:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    built = LlamaIndexKnowledgeIndex.build(kb_dir, index_dir, embedder=HashingEmbedder())
    assert built.mode == "fused"
    query = "send money to my IBAN"
    lexical = built.with_mode("lexical").search(query, 3)
    assert [h.article_id for h in lexical] == ["kb-topup"]  # only articles sharing a word
    fused = built.search(query, 3)
    vector = built.with_mode("vector").search(query, 3)
    assert fused[0].article_id == "kb-topup"
    assert len({h.article_id for h in fused}) == len(fused) == 3
    # Fusion orders; the scores are the vector search's, place by place (the intent lift's scale).
    assert [h.score for h in fused] == [h.score for h in vector]
    with pytest.raises(ValueError, match="not 'hybrid'"):
        built.with_mode("hybrid")  # type: ignore[arg-type]


def test_store_defaults_and_wrong_pairs_of_store_and_mode() -> None:
    assert check_search_mode("local", None) == "fused"
    assert check_search_mode("weaviate", None) == "hybrid"
    with pytest.raises(ValueError, match="weaviate store's"):
        check_search_mode("local", "hybrid")
    with pytest.raises(ValueError, match="local store's"):
        RetrieverSettings(store="weaviate", search_mode="lexical").resolved_search_mode()


def test_eval_mode_resolution() -> None:
    settings = RetrieverSettings(store="local")
    assert resolve_store_and_modes(settings, None, None) == ("local", ["fused"])
    assert resolve_store_and_modes(settings, "weaviate", None) == ("weaviate", ["hybrid"])
    assert resolve_store_and_modes(settings, None, ["all"]) == (
        "local",
        ["fused", "vector", "lexical"],
    )
    assert resolve_store_and_modes(settings, "weaviate", ["all"]) == (
        "weaviate",
        ["hybrid", "vector"],
    )
    assert resolve_store_and_modes(settings, None, ["vector", "lexical", "vector"]) == (
        "local",
        ["vector", "lexical"],
    )
    # A mode set for the other store in the environment falls back to this store's default.
    hybrid = RetrieverSettings(store="local", search_mode="hybrid")
    assert resolve_store_and_modes(hybrid, None, None) == ("local", ["fused"])
    assert resolve_store_and_modes(hybrid, "weaviate", None) == ("weaviate", ["hybrid"])
    with pytest.raises(ConfigurationError, match="hybrid needs --store weaviate"):
        resolve_store_and_modes(settings, "local", ["hybrid"])
    with pytest.raises(ConfigurationError, match="lexical needs --store local"):
        resolve_store_and_modes(settings, "weaviate", ["lexical"])
    with pytest.raises(ConfigurationError, match="--mode bm42"):
        resolve_store_and_modes(settings, None, ["bm42"])


def test_serving_needs_no_bm25s_or_scipy_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, supportbus_retriever.app, supportbus_retriever.lexical; "
        "print(any(m.split('.')[0] in ('bm25s', 'scipy') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
