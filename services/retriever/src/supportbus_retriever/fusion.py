"""Fusing rankings: reciprocal rank fusion (Cormack, Clarke and Büttcher, SIGIR 2009).

RRF looks only at ranks, so a BM25 score (unbounded, query-length dependent) and a cosine need no
calibration against each other: an article high in either list comes out high.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Key]], *, k: float, weights: Sequence[float] | None = None
) -> list[tuple[Key, float]]:
    """Every key of ``rankings`` (each best first) with its fused score, best first.

    A key at 1-based rank r of ranking i adds ``weights[i] / (k + r)``; a key missing from a
    ranking adds nothing there. Ties are broken by the best rank the key reached in any ranking,
    then by the first ranking that reached it, so the result never depends on dict or set order.
    """
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    if k < 0:
        raise ValueError("k must be >= 0")
    scores: dict[Key, float] = {}
    first_seen: dict[Key, tuple[int, int]] = {}  # (best rank, ranking index)
    for which, (ranking, weight) in enumerate(zip(rankings, weights, strict=True)):
        for rank, key in enumerate(ranking, 1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            if key not in first_seen or (rank, which) < first_seen[key]:
                first_seen[key] = (rank, which)
    return sorted(scores.items(), key=lambda item: (-item[1], first_seen[item[0]]))


@dataclass(frozen=True)
class FusionParams:
    """Weighted RRF of the vector and the BM25 ranking, each cut at ``depth`` articles."""

    rrf_k: float
    vector_weight: float
    lexical_weight: float
    depth: int


# Chosen by 5-fold cross-validation on the Banking77 training texts (benchmarks/
# retrieval_tuning.py; its docstring has the figures). The vector side weighs more because it is
# the stronger ranker (train R@3 0.905 against BM25's 0.75); a small k lets a first place count.
FUSION = FusionParams(rrf_k=5, vector_weight=3.0, lexical_weight=1.0, depth=73)
# With question expansion (questions in both the vectors and BM25), chosen the same way, each
# fold's index holding only the other four folds' texts as questions: 5-fold CV R@1 0.918,
# R@3 0.975, MRR 0.944 (vectors with questions alone: 0.918 / 0.970 / 0.940). Each side cut at
# its 10 best articles and a small k: BM25 confirms or reorders the vectors' first places.
EXPANDED_FUSION = FusionParams(rrf_k=2, vector_weight=2.0, lexical_weight=1.0, depth=10)


def fusion_for(expanded: bool) -> FusionParams:
    return EXPANDED_FUSION if expanded else FUSION
