"""Per intent, how close a request is to that intent's nearest training texts.

A linear SVM draws one boundary per intent; some of Banking77's intents are a handful of
phrasings each ("my card payment was declined" and its variants), and a request that nearly
repeats one of them is better judged by that neighbour than by the boundary. The score of an
intent is the mean cosine similarity between the request and the ``k`` training texts of that
intent most similar to it; the model adds it, times a weight, to the SVM's score.
Cross-validated on the training split (``benchmarks/classifier_features.py``), k = 2 and weight 7
lift the SVM from 0.9242 to 0.9299.

The examples are rounded to float16 (the model file saves them so, half the size, and the
ranking is the same) and held as float32 for the product; the training folds score through the
same rounding, so the temperature is fitted to the scores the service computes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

NEIGHBOURS = 2
WEIGHT = 7.0
FEATURES = f"knn{NEIGHBOURS}*{WEIGHT:g}"


class NearestExamples:
    """The embedded training texts, grouped by intent; ``scores`` is (queries, intents)."""

    def __init__(
        self,
        vectors: NDArray[np.floating],
        truth: NDArray[np.intp],
        n_classes: int,
        *,
        neighbours: int = NEIGHBOURS,
    ) -> None:
        if len(vectors) != len(truth):
            raise ValueError("one intent per example")
        order = np.argsort(truth, kind="stable")
        # One copy only: float16 values held as float32 (exact), turned back to float16 to save.
        self._vectors = np.asarray(vectors, dtype=np.float16)[order].astype(np.float32)
        self._truth = np.asarray(truth, dtype=np.intp)[order]
        self._neighbours = neighbours
        counts = np.bincount(self._truth, minlength=n_classes)
        # Each intent's examples as one row of indices, padded to the largest intent with -1,
        # so the top k of every intent is one np.partition over a (queries, intents, widest)
        # array instead of a Python loop over intents.
        widest = max(int(counts.max()), neighbours)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        columns = np.arange(widest)
        self._index = np.where(columns < counts[:, np.newaxis], starts[:, np.newaxis] + columns, -1)
        self._taken = np.maximum(np.minimum(counts, neighbours), 1)

    def scores(self, queries: NDArray[np.floating]) -> NDArray[np.float64]:
        """Mean cosine of each intent's k most similar examples (fewer if it has fewer;
        0 for an intent with none). Queries and examples are unit vectors."""
        similarities = np.asarray(queries, dtype=np.float32) @ self._vectors.T
        grouped = similarities[:, np.maximum(self._index, 0)]
        grouped[:, self._index < 0] = -np.inf
        first = grouped.shape[2] - self._neighbours
        top = np.partition(grouped, first, axis=2)[:, :, first:]
        sums = np.where(np.isfinite(top), top, 0.0).sum(axis=2, dtype=np.float64)
        return np.asarray(sums / self._taken, dtype=np.float64)

    def to_arrays(self) -> dict[str, NDArray[np.generic]]:
        return {"knn_vectors": self._vectors.astype(np.float16), "knn_truth": self._truth}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, NDArray[np.generic]], n_classes: int
    ) -> NearestExamples:
        """The examples ``to_arrays`` saved; k is ``NEIGHBOURS`` (part of the feature set the
        model file names, so a file made with another k is refused before this)."""
        truth = np.asarray(arrays["knn_truth"], dtype=np.intp)
        if truth.size and (truth.min() < 0 or truth.max() >= n_classes):
            raise ValueError("nearest-example intents outside the model's labels")
        return cls(np.asarray(arrays["knn_vectors"]), truth, n_classes)
