"""Question expansion: labelled customer questions indexed with the articles that answer them."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from supportbus_cli import artifacts
from supportbus_cli.retrieval_eval import eval_expansion, retrieval_evals
from supportbus_devtools.testing import HashingEmbedder
from supportbus_retriever.errors import IndexUnavailable
from supportbus_retriever.expansion import NO_EXPANSION, Expansion, configured_expansion
from supportbus_retriever.fusion import EXPANDED_FUSION, FUSION
from supportbus_retriever.kb import KbArticle, load_articles
from supportbus_retriever.lexical import LexicalParams, build_lexical
from supportbus_retriever.llama_index_store import (
    INDEX_FORMAT,
    LOCAL_MODES,
    MANIFEST,
    LlamaIndexKnowledgeIndex,
)
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.errors import ConfigurationError

ARTICLES = {
    "kb-stolen": ("Lost or stolen card", ["lost_or_stolen_card"], "## Freeze it\nFreeze the card."),
    "kb-pin": ("Your PIN", ["pin_blocked", "change_pin"], "## Unblock\nUnblock it at an ATM."),
    "kb-topup": ("Top up by transfer", ["top_up"], "## Top up\nSend a bank transfer to your IBAN."),
}
# Words no article has: only the questions can match them.
QUESTIONS = [
    ("a pickpocket nicked my wallet on the tram", "lost_or_stolen_card"),
    ("typed the wrong digits thrice, now what", "pin_blocked"),
    ("zorblax quux frobnicate", "not_an_intent_of_any_article"),
]


def _write_kb(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for article_id, (title, intents, body) in ARTICLES.items():
        (directory / f"{article_id}.md").write_text(
            f"---\nid: {article_id}\ntitle: {title}\nintents: {intents}\n---\n{body}\n"
        )
    return directory


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(rows)
    return path


def _expansion(rows: list[tuple[str, str]] = QUESTIONS) -> Expansion:
    return Expansion.of((t for t, _ in rows), (i for _, i in rows), source="questions.csv")


def _articles() -> list[KbArticle]:
    return [
        KbArticle(article_id, title, "cards", tuple(intents), body)
        for article_id, (title, intents, body) in ARTICLES.items()
    ]


def test_each_question_is_attached_to_the_articles_tagged_with_its_intent() -> None:
    attached = _expansion().attached(_articles())
    assert attached == [
        ("kb-stolen", QUESTIONS[0][0]),
        ("kb-pin", QUESTIONS[1][0]),
    ]  # the question of an intent no article has is left out
    two = Expansion.of(["new pin please"], ["change_pin"]).attached(
        [*_articles(), KbArticle("kb-pin-2", "PIN again", "cards", ("change_pin",), "x")]
    )
    assert two == [("kb-pin", "new pin please"), ("kb-pin-2", "new pin please")]


def test_bm25_finds_an_article_by_its_questions_words() -> None:
    plain = build_lexical(_articles(), LexicalParams())
    expanded = build_lexical(_articles(), LexicalParams(), _expansion())
    assert plain.ranking("pickpocket tram", 3) == []
    assert expanded.ranking("pickpocket tram", 3)[0][0] == "kb-stolen"
    assert expanded.ranking("wrong digits", 3)[0][0] == "kb-pin"
    assert len(expanded) == len(plain) + 2


def test_the_sha256_follows_the_questions_and_their_labels() -> None:
    assert _expansion().sha256 == _expansion().sha256
    relabelled = [(QUESTIONS[0][0], "card_arrival"), *QUESTIONS[1:]]
    assert _expansion(relabelled).sha256 != _expansion().sha256
    assert NO_EXPANSION.sha256 != _expansion().sha256
    assert len(_expansion().without(["A PICKPOCKET  nicked my wallet on the tram"])) == 2


def test_hits_never_show_a_question_only_the_articles_own_text(tmp_path: Path) -> None:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    built = LlamaIndexKnowledgeIndex.build(
        kb_dir, index_dir, embedder=HashingEmbedder(), expansion=_expansion()
    )
    loaded = LlamaIndexKnowledgeIndex.load(index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir)
    own_text = {a.article_id: f"{a.title}\n{a.body}" for a in load_articles(kb_dir)}
    question_words = {"pickpocket", "nicked", "tram", "digits", "thrice", "zorblax"}
    for index in (built, loaded):
        for mode in LOCAL_MODES:
            view = index.with_mode(mode)
            for question, _ in QUESTIONS:
                hits = view.search(question, 3)
                if question.startswith("a pickpocket"):
                    assert hits[0].article_id == "kb-stolen"  # found through the question
                if mode == "vector" and question.startswith("a pickpocket"):
                    assert hits[0].score == pytest.approx(1.0)  # the question's own vector
                for hit in hits:
                    assert question not in hit.snippet
                    assert not question_words & set(hit.snippet.lower().split())
                    assert hit.snippet.rstrip("…") in " ".join(own_text[hit.article_id].split())


def test_the_manifest_records_the_questions_and_fusion_follows_them(tmp_path: Path) -> None:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    built = LlamaIndexKnowledgeIndex.build(
        kb_dir, index_dir, embedder=HashingEmbedder(), expansion=_expansion()
    )
    manifest = json.loads((index_dir / MANIFEST).read_text())
    assert manifest["format"] == INDEX_FORMAT == 4
    assert manifest["expansion"] == {
        "source": "questions.csv",
        "sha256": _expansion().sha256,
        "questions": 3,
        "attached": 2,  # BM25 units
        "vectors": 2,  # question vectors (the third question's intent has no article)
    }
    assert built.expansion == manifest["expansion"]
    assert built._fusion == EXPANDED_FUSION
    plain = LlamaIndexKnowledgeIndex.build(kb_dir, tmp_path / "plain", embedder=HashingEmbedder())
    assert plain.expansion is None
    assert plain._fusion == FUSION


def test_an_index_built_from_other_questions_is_stale(tmp_path: Path) -> None:
    kb_dir, index_dir = _write_kb(tmp_path / "kb"), tmp_path / "index"
    LlamaIndexKnowledgeIndex.build(
        kb_dir, index_dir, embedder=HashingEmbedder(), expansion=_expansion()
    )

    def load(expansion: Expansion | None) -> LlamaIndexKnowledgeIndex:
        return LlamaIndexKnowledgeIndex.load(
            index_dir, embedder=HashingEmbedder(), kb_dir=kb_dir, expansion=expansion
        )

    load(_expansion())
    load(None)  # the service does not check: it serves the index it was given
    with pytest.raises(IndexUnavailable, match=r"built with 3 expansion questions.*not these 2"):
        load(_expansion(QUESTIONS[:2]))
    with pytest.raises(IndexUnavailable, match="not these 0"):
        load(NO_EXPANSION)


def test_ensure_index_rebuilds_when_the_questions_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifacts, "embedder_for", lambda _settings: HashingEmbedder())
    csv_path = _write_csv(tmp_path / "questions.csv", QUESTIONS)
    settings = RetrieverSettings(
        kb_dir=_write_kb(tmp_path / "kb"), index_dir=tmp_path / "index", expansion_csv=csv_path
    )

    def manifest() -> dict[str, object]:
        return dict(json.loads((settings.index_dir / MANIFEST).read_text())["expansion"])

    artifacts.ensure_index(settings)
    first = manifest()
    assert first["questions"] == 3
    assert first["source"] == str(csv_path)
    mtime = (settings.index_dir / MANIFEST).stat().st_mtime_ns
    artifacts.ensure_index(settings)  # up to date: not rebuilt
    assert (settings.index_dir / MANIFEST).stat().st_mtime_ns == mtime
    _write_csv(csv_path, QUESTIONS[:2])
    artifacts.ensure_index(settings)
    assert manifest()["questions"] == 2
    assert manifest()["sha256"] != first["sha256"]
    off = settings.model_copy(update={"expansion": False})
    artifacts.ensure_index(off)
    assert manifest()["questions"] == 0


def test_the_settings_default_to_the_training_csv_and_a_missing_one_means_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = RetrieverSettings(shared_dir=tmp_path)
    assert settings.expansion_path() == tmp_path / "datasets" / "banking77" / "train.csv"
    assert RetrieverSettings(expansion=False).expansion_path() is None
    with caplog.at_level(logging.WARNING):
        assert configured_expansion(settings.expansion_path()) is NO_EXPANSION
    assert [r.message for r in caplog.records if "no expansion questions" in r.message]
    assert configured_expansion(None) is NO_EXPANSION


def test_an_evaluation_refuses_a_train_file_that_shares_texts_with_the_test(
    tmp_path: Path,
) -> None:
    test_csv = _write_csv(
        tmp_path / "test.csv",
        [("My card was STOLEN  yesterday", "lost_or_stolen_card"), ("top up?", "top_up")],
    )
    train_csv = _write_csv(
        tmp_path / "train.csv",
        [*QUESTIONS, ("my card was stolen yesterday", "lost_or_stolen_card")],
    )
    with pytest.raises(ConfigurationError, match=r"1 text\(s\) of --test .* are also in --train"):
        eval_expansion(test_csv, train_csv)
    settings = RetrieverSettings(kb_dir=_write_kb(tmp_path / "kb"))
    with pytest.raises(ConfigurationError, match="--drop-overlap"):
        retrieval_evals(
            test_csv, settings=settings, embedder=HashingEmbedder(), train_csv=train_csv
        )
    kept, overlap = eval_expansion(test_csv, train_csv, drop_overlap=True)
    assert overlap == 1
    assert kept.texts == tuple(t for t, _ in QUESTIONS)
    assert eval_expansion(test_csv, None) == (NO_EXPANSION, 0)


def test_an_evaluation_expands_only_with_its_train_file(tmp_path: Path) -> None:
    kb_dir = _write_kb(tmp_path / "kb")
    test_csv = _write_csv(tmp_path / "test.csv", [("pickpocket tram", "lost_or_stolen_card")])
    train_csv = _write_csv(tmp_path / "train.csv", QUESTIONS)
    # The settings' own CSV (which holds the test rows) must never be read by an evaluation.
    settings = RetrieverSettings(
        kb_dir=kb_dir, expansion_csv=_write_csv(tmp_path / "all.csv", QUESTIONS[:1])
    )
    plain = retrieval_evals(
        test_csv, settings=settings, embedder=HashingEmbedder(), modes=["lexical"]
    )
    expanded = retrieval_evals(
        test_csv,
        settings=settings,
        embedder=HashingEmbedder(),
        modes=["all"],
        train_csv=train_csv,
    )
    assert plain[0]["expansion_questions"] == 0
    assert plain[0]["recall_at_k"] == 0
    assert [r["mode"] for r in expanded] == ["fused", "vector", "lexical"]
    assert {r["expansion_questions"] for r in expanded} == {3}
    assert {r["expansion_units"] for r in expanded} == {2}
    assert expanded[2]["recall_at_1"] == 1.0
    with pytest.raises(ConfigurationError, match="local store only"):
        retrieval_evals(
            test_csv,
            settings=settings,
            embedder=HashingEmbedder(),
            store="weaviate",
            train_csv=train_csv,
        )
