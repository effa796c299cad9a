"""Benchmark: chooses the local store's lexical (BM25) and fusion settings by 5-fold
cross-validation on the Banking77 TRAINING texts; the test split is never read here.

A hit is an article tagged with the text's intent among the top 3, as in `supportbus eval
retrieve`. There is nothing to fit, only settings to choose, so each fold picks the best setting
(recall@3, then MRR) on the other four folds and is scored with it; the mean of those five
held-out scores is the honest estimate of the chosen setting. The shipped defaults
(supportbus_retriever.lexical.LexicalParams and EXPANDED_LEXICAL,
supportbus_retriever.fusion.FUSION and EXPANDED_FUSION) are the best on all of train;
the script says whether they still are.

    uv run --frozen python benchmarks/retrieval_tuning.py [--train /work/exp/split/train.csv]
        [--expansion]   # also choose the settings with question expansion (the default index)

With --expansion, fold f's texts are scored against an index whose questions are the other four
folds' texts, never their own. The per-fold choice of a setting looks at the other folds' scores,
which were computed with fold f's texts among the questions: a mild optimism in the choice,
never in what a scored text could see.

Last run (8,005 texts; grids of 48 BM25 x 75 fusion settings articles-only, 24 BM25 x 90 fusion
x 2 vector sides with expansion; 4 min 31 s on 2 shared cores):
  articles only (`--train` absent / RETRIEVER_EXPANSION=false):
    vector (section chunks)                 R@1 0.7207  R@3 0.9049  MRR 0.8034
    lexical, best on train: k1 2.0, b 0.5, stop words dropped, no answers
      5-fold CV                             R@1 0.5500  R@3 0.7703  MRR 0.6471
    fused, best on train (shipped, FUSION): BM25 k1 0.9, b 0.9, no stop words, answers indexed;
      RRF k 5, vector weight 3, lexical weight 1, depth 73 (all articles)
                                            R@1 0.7257  R@3 0.9099  MRR 0.8087
      5-fold CV                             R@1 0.7293  R@3 0.9053  MRR 0.8082
  question expansion (the shipped default index), all 5-fold CV:
    vector, questions as extra vectors      R@1 0.9181  R@3 0.9700  MRR 0.9403
    lexical, questions as BM25 units (best k1 2.0, b 0.75, stop words dropped)
                                            R@1 0.8004  R@3 0.9102  MRR 0.8477
    fused, questions in BM25 only (best k1 1.2, b 0.75; RRF k 5, weights 1:1, depth 73)
                                            R@1 0.8410  R@3 0.9639  MRR 0.8977
    fused, questions on both sides (shipped, EXPANDED_LEXICAL / EXPANDED_FUSION): BM25 k1 1.5,
      b 0.5, no stop words, answers indexed; RRF k 2, vector weight 2, lexical 1, depth 10
                                            R@1 0.9176  R@3 0.9754  MRR 0.9439
      (on all of train, where it was chosen: R@1 0.9173  R@3 0.9773  MRR 0.9446)
Fusing BM25 over the articles' own text adds about 1 point of R@1 and little or nothing to R@3
(CV 0.9053 against 0.9049); equal weights (1:1) or RRF k 60 cost 2-5 points of R@3, because
BM25 alone is much the weaker ranker on short, colloquial Banking77 texts. With questions the
vectors gain most (a query close to a past question of the same intent), and BM25 over the
questions still adds half a point of R@3 to them.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from supportbus_classifier.training import read_labelled_csv
from supportbus_retriever.expansion import Expansion
from supportbus_retriever.fusion import EXPANDED_FUSION, FUSION, FusionParams
from supportbus_retriever.kb import KbArticle, load_articles
from supportbus_retriever.lexical import (
    EXPANDED_LEXICAL,
    LexicalIndex,
    LexicalParams,
    build_lexical,
)
from supportbus_retriever.llama_index_store import LlamaIndexKnowledgeIndex
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.embedding import MiniLMEmbedder

FOLDS = 5
K = 3
Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class Scored:
    """Per query: the 1-based rank of the first relevant article (0: not in the top K)."""

    ranks: NDArray[np.int64]

    def metrics(self, rows: NDArray[np.int64] | slice = slice(None)) -> tuple[float, float, float]:
        r = self.ranks[rows]
        return (
            float(np.mean(r == 1)),
            float(np.mean(r > 0)),
            float(np.mean(np.where(r > 0, 1 / np.maximum(r, 1), 0))),
        )


def first_hit(scores: Matrix, relevant: NDArray[np.bool_]) -> Scored:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    hit = np.take_along_axis(relevant, order, axis=1)
    return Scored(np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0))


def ranks_of(scores: Matrix) -> NDArray[np.int64]:
    """1-based rank of every article per query."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return ranks


def fused(
    vector: NDArray[np.int64],
    lexical: NDArray[np.int64],
    lexical_hit: NDArray[np.bool_],
    fusion: FusionParams,
) -> Matrix:
    """The same weighted RRF as the store (supportbus_retriever.fusion), for all queries at once."""
    depth = fusion.depth
    score = np.where(vector <= depth, fusion.vector_weight / (fusion.rrf_k + vector), 0.0)
    keep = (lexical <= depth) & lexical_hit  # the store ranks only articles sharing a term
    score = score + np.where(keep, fusion.lexical_weight / (fusion.rrf_k + lexical), 0.0)
    return score.astype(np.float32)


def lexical_matrix(index: LexicalIndex, texts: list[str], ids: list[str]) -> Matrix:
    order = [index.articles.index(a) for a in ids]
    return index.many_article_scores(texts)[:, order]


def choose(
    results: dict[str, Scored], folds: NDArray[np.int64]
) -> tuple[str, tuple[float, float, float]]:
    """Cross-validated: each fold scored with the setting best on the other folds."""
    per_fold = []
    for fold in range(FOLDS):
        train_rows, held_out = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        best = max(results, key=lambda name: results[name].metrics(train_rows)[1:])
        per_fold.append(results[best].metrics(held_out))
    overall = max(results, key=lambda name: results[name].metrics()[1:])
    return overall, tuple(float(x) for x in np.mean(per_fold, axis=0))  # type: ignore[return-value]


def fmt(m: tuple[float, float, float]) -> str:
    return f"R@1 {m[0]:.4f}  R@3 {m[1]:.4f}  MRR {m[2]:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("/work/exp/split/train.csv"))
    parser.add_argument("--expansion", action="store_true")
    args = parser.parse_args()
    settings = RetrieverSettings()
    embedder = MiniLMEmbedder(
        settings.resolved_model_path(settings.shared_dir), threads=settings.embedding_threads
    )
    data = read_labelled_csv(args.train)
    articles = load_articles(settings.kb_dir)
    ids = [a.article_id for a in articles]
    relevant = np.array([[label in a.intents for a in articles] for label in data.labels])
    folds = np.random.default_rng(7).permutation(len(data.texts)) % FOLDS

    with tempfile.TemporaryDirectory() as scratch:
        store = LlamaIndexKnowledgeIndex.build(settings.kb_dir, Path(scratch), embedder=embedder)
    queries = np.concatenate(
        [embedder.embed(data.texts[i : i + 256]) for i in range(0, len(data.texts), 256)]
    )
    vector_scores = store.article_vector_scores(queries, ids)
    vector_ranks = ranks_of(vector_scores)
    print(f"{'vector':<32}{fmt(first_hit(vector_scores, relevant).metrics())}", flush=True)

    lexical_results: dict[str, Scored] = {}
    fused_results: dict[str, Scored] = {}
    grid_lexical = [
        LexicalParams(k1, b, stopwords, answers)
        for k1, b, stopwords, answers in itertools.product(
            (0.9, 1.2, 1.5, 2.0), (0.5, 0.75, 0.9), (False, True), (False, True)
        )
    ]
    grid_fusion = [
        FusionParams(rrf_k=k, vector_weight=w, lexical_weight=1.0, depth=depth)
        for k, w, depth in itertools.product(
            (2, 5, 10, 30, 60), (1.0, 1.5, 2.0, 3.0, 4.0), (10, 20, 73)
        )
    ]
    for params in grid_lexical:
        lexical = lexical_matrix(build_lexical(articles, params), data.texts, ids)
        lexical_results[repr(params)] = first_hit(lexical, relevant)
        lexical_ranks, lexical_hit = ranks_of(lexical), lexical > 0
        for fusion in grid_fusion:
            scores = fused(vector_ranks, lexical_ranks, lexical_hit, fusion)
            fused_results[f"{params!r} {fusion!r}"] = first_hit(scores, relevant)
        print(f"{params!r:<80} lexical {fmt(lexical_results[repr(params)].metrics())}", flush=True)

    for name, results in (("lexical", lexical_results), ("fused", fused_results)):
        best, cv = choose(results, folds)
        print(f"\n{name}: best on all of train: {best}\n  {fmt(results[best].metrics())}")
        print(f"  {FOLDS}-fold cross-validated (chosen on 4 folds, scored on the 5th): {fmt(cv)}")
    shipped = f"{LexicalParams()!r} {FUSION!r}"
    print(
        f"\nshipped: {shipped}\n  {fmt(fused_results[shipped].metrics())}"
        if shipped in fused_results
        else f"\nshipped settings not in the grid: {shipped}"
    )
    if args.expansion:
        expansion(articles, data.texts, data.labels, folds, queries, vector_scores, relevant, ids)


def expansion(
    articles: list[KbArticle],
    texts: list[str],
    labels: list[str],
    folds: NDArray[np.int64],
    queries: Matrix,
    vector_scores: Matrix,
    relevant: NDArray[np.bool_],
    ids: list[str],
) -> None:
    """Question expansion, cross-validated: fold f's texts are scored against an index whose
    questions are the other four folds' texts (never their own). Lexical: the questions as extra
    BM25 units of the articles tagged with their intent (as shipped). Vector: also as extra
    "chunks" (each article's score the best of its sections' and its questions' cosines)."""
    unit = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    intents = sorted(set(labels))
    label_index = np.asarray([intents.index(label) for label in labels])
    tagged = np.asarray([[i in a.intents for i in intents] for a in articles])  # article x intent
    vector_expanded = vector_scores.copy()
    for fold in range(FOLDS):
        held_out, other = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        sims = unit[held_out] @ unit[other].T
        per_intent = np.full((len(held_out), len(intents)), -np.inf, dtype=np.float32)
        for j in range(len(intents)):
            mine = label_index[other] == j
            if mine.any():
                per_intent[:, j] = sims[:, mine].max(axis=1)
        per_article = np.where(tagged[None], per_intent[:, None, :], -np.inf).max(axis=2)
        vector_expanded[held_out] = np.maximum(vector_scores[held_out], per_article)
    vectors = {"plain": vector_scores, "expanded": vector_expanded}
    for name, scores in vectors.items():
        print(
            f"vector, {name} (CV){'':<18}{fmt(first_hit(scores, relevant).metrics())}", flush=True
        )
    vector_ranks = {name: ranks_of(scores) for name, scores in vectors.items()}

    grid_lexical = [
        LexicalParams(k1, b, stopwords, answers=True)
        for k1, b, stopwords in itertools.product(
            (0.9, 1.2, 1.5, 2.0), (0.5, 0.75, 0.9), (False, True)
        )
    ]
    grid_fusion = [
        FusionParams(rrf_k=k, vector_weight=w, lexical_weight=1.0, depth=depth)
        for k, w, depth in itertools.product(
            (2, 5, 10, 30, 60), (0.5, 0.75, 1.0, 1.5, 2.0, 3.0), (10, 20, 73)
        )
    ]
    lexical_results: dict[str, Scored] = {}
    fused_results: dict[str, dict[str, Scored]] = {name: {} for name in vectors}
    for params in grid_lexical:
        lexical_out = np.zeros((len(texts), len(ids)), dtype=np.float32)
        for fold in range(FOLDS):
            held_out, other = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
            questions = Expansion.of([texts[i] for i in other], [labels[i] for i in other])
            index = build_lexical(articles, params, questions)
            lexical_out[held_out] = lexical_matrix(index, [texts[i] for i in held_out], ids)
        lexical_results[repr(params)] = first_hit(lexical_out, relevant)
        lexical_ranks, lexical_hit = ranks_of(lexical_out), lexical_out > 0
        for name, ranks in vector_ranks.items():
            for fusion in grid_fusion:
                scores = fused(ranks, lexical_ranks, lexical_hit, fusion)
                fused_results[name][f"{params!r} {fusion!r}"] = first_hit(scores, relevant)
        print(
            f"{params!r:<80} expanded lexical {fmt(lexical_results[repr(params)].metrics())}",
            flush=True,
        )
    best, cv = choose(lexical_results, folds)
    print(f"\nexpanded lexical: best {best}\n  {fmt(lexical_results[best].metrics())}")
    print(f"  chosen per fold on the other four: {fmt(cv)}")
    everything: dict[str, Scored] = {}
    for name, results in fused_results.items():
        best, cv = choose(results, folds)
        print(f"\nexpanded fused, vector {name}: best {best}\n  {fmt(results[best].metrics())}")
        print(f"  chosen per fold on the other four: {fmt(cv)}")
        everything.update({f"vector {name} {key}": value for key, value in results.items()})
    best, cv = choose(everything, folds)
    print(f"\nexpanded fused, either vector side: best {best}\n  {fmt(everything[best].metrics())}")
    print(f"  chosen per fold on the other four: {fmt(cv)}")
    shipped = f"{EXPANDED_LEXICAL!r} {EXPANDED_FUSION!r}"
    if shipped in fused_results["expanded"]:
        result = fused_results["expanded"][shipped]
        print(f"\nshipped (questions on both sides): {shipped}\n  {fmt(result.metrics())}")
    else:
        print(f"\nshipped expanded settings not in the grid: {shipped}")


if __name__ == "__main__":
    main()
