"""The nearest-examples score: per intent, the mean cosine of its k most similar training texts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from supportbus_classifier.nearest_examples import NearestExamples


def _unit(rows: NDArray[np.float64]) -> NDArray[np.float64]:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


def _by_hand(
    queries: NDArray[np.float64], examples: NDArray[np.float64], truth: list[int], n: int, k: int
) -> NDArray[np.float64]:
    kept = examples.astype(np.float16).astype(np.float64)  # the rounding the model stores
    expected = np.zeros((len(queries), n))
    for row, query in enumerate(queries.astype(np.float32).astype(np.float64)):
        for intent in range(n):
            mine = sorted(kept[i] @ query for i in range(len(truth)) if truth[i] == intent)
            if mine:
                expected[row, intent] = np.mean(mine[-k:])
    return expected


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n_classes=st.integers(1, 6),
    k=st.integers(1, 4),
    n_examples=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_intent_scores_the_mean_similarity_of_its_k_nearest_examples(
    data: st.DataObject, n_classes: int, k: int, n_examples: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    truth = data.draw(
        st.lists(st.integers(0, n_classes - 1), min_size=n_examples, max_size=n_examples)
    )
    examples = _unit(rng.normal(size=(n_examples, 6)))
    queries = _unit(rng.normal(size=(3, 6)))
    nearest = NearestExamples(examples, np.array(truth), n_classes, neighbours=k)
    np.testing.assert_allclose(
        nearest.scores(queries), _by_hand(queries, examples, truth, n_classes, k), atol=1e-5
    )


def test_a_request_repeating_a_training_text_scores_its_intent_highest() -> None:
    rng = np.random.default_rng(7)
    examples = _unit(rng.normal(size=(30, 16)))
    truth = np.arange(30) % 3
    scores = NearestExamples(examples, truth, 3).scores(examples[[4, 5, 9]])
    assert list(scores.argmax(axis=1)) == [1, 2, 0]


def test_saved_examples_load_to_the_same_scores() -> None:
    rng = np.random.default_rng(3)
    examples = _unit(rng.normal(size=(25, 8)))
    truth = rng.integers(0, 4, size=25)
    nearest = NearestExamples(examples, truth, 4)
    again = NearestExamples.from_arrays(nearest.to_arrays(), 4)
    queries = _unit(rng.normal(size=(5, 8)))
    np.testing.assert_array_equal(again.scores(queries), nearest.scores(queries))
